# The soak benchmark's short version (scripts/bench/soak.sh 30 8): 30 s of training at 2 ranks
# with a checkpoint every 100 steps, --val each epoch and a USR1 requeue every 8 s; no requeued
# instance may grow its peak memory or its open descriptors after warm-up, and the final model
# must equal an uninterrupted run's bit for bit. (About 70 s in all, the uninterrupted run
# included; it runs alone, see tests/CMakeLists.txt.)
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 3000 40 5 3
"$MAKE_DATASET" "$WORK/val.h5" 500 40 5 4
NNDIST="$NNDIST" SOAK_DATA="$WORK/train.h5" SOAK_VAL="$WORK/val.h5" SOAK_LAYERS=40,256,256,5 \
    SOAK_BATCH=30 SOAK_DIR="$WORK/soak" \
    bash "$(dirname "$0")/../scripts/bench/soak.sh" 30 8 > "$WORK/soak.log" 2>&1 ||
    fail "the soak failed: $(cat "$WORK/soak.log")"
cat "$WORK/soak.log"
instances=$(sed -n 's/^soak: \([0-9]*\) instances.*/\1/p' "$WORK/soak.log")
[ "${instances:-0}" -ge 3 ] || fail "expected at least 3 instances (2 requeues), got ${instances:-none}"
grep -q "^soak: ok: no growth" "$WORK/soak.log" || fail "no verdict on growth"
grep -q "^soak: ok: the final model equals the uninterrupted run's bit for bit" "$WORK/soak.log" ||
    fail "no bitwise verdict"
echo "1 passed, 0 failed"
