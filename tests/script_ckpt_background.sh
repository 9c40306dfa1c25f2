# Periodic checkpoints are written by a background thread while the steps go on (the default)
# or before the next step (--sync-checkpoints): the files hold the same tensors and optimizer
# state bitwise either way, and a signal that arrives while a write is in flight lets that
# write land, writes its own checkpoint, exits 75, and the run resumes exactly.
source "$(dirname "$0")/lib.sh"
interrupted_run_fixture

# The same run both ways, keeping every checkpoint: every dataset equal (the files differ only
# in their run id).
for mode in background sync; do
    flag=()
    [ "$mode" = sync ] && flag=(--sync-checkpoints)
    run 2 "${common[@]}" --keep 10 --checkpoint-dir "$WORK/$mode" "${flag[@]}" \
        > "$WORK/$mode.log" || fail "$mode: train failed"
done
grep -q "^checkpoints: 6 written; the steps waited [0-9.]* s for them (5 written in the background" \
    "$WORK/background.log" || fail "no background writes reported: $(tail -n 2 "$WORK/background.log")"
grep -q "^checkpoints: 6 written; the steps waited [0-9.]* s for them$" "$WORK/sync.log" ||
    fail "--sync-checkpoints still wrote in the background: $(tail -n 2 "$WORK/sync.log")"
/usr/bin/python3 - "$WORK/background" "$WORK/sync" << 'PY' || fail "the checkpoints differ"
import os, sys, h5py
a, b = sys.argv[1], sys.argv[2]
names = sorted(f for f in os.listdir(a) if f.endswith(".h5"))
assert len(names) == 6 and names == sorted(f for f in os.listdir(b) if f.endswith(".h5")), names
for n in names:
    with h5py.File(os.path.join(a, n)) as fa, h5py.File(os.path.join(b, n)) as fb:
        seen = []
        fa.visititems(lambda k, o: seen.append(k) if isinstance(o, h5py.Dataset) else None)
        assert seen and any(k.startswith("optimizer") for k in seen), seen
        for k in seen:
            assert fa[k][()].tobytes() == fb[k][()].tobytes(), (n, k)
print(f"{len(names)} checkpoints: every tensor and state buffer bitwise equal")
PY

# SIGUSR1 while the write of checkpoint 100 sleeps (slowckpt: 5 s in the writer): the steps
# have gone on; the stop waits for that write, then writes the signal's checkpoint.
NNDIST_FAULT='slowckpt@0:0' run 2 "${common[@]}" --checkpoint-dir "$WORK/signal" \
    > "$WORK/signal.log" 2>&1 &
pid=$!
until_exists "$WORK/signal/ckpt-000000000100.h5.*.tmp" ||
    fail "the write of checkpoint 100 never started"
kill -USR1 "$(pgrep -f "^[^ ]*mpi(run|exec) -np 2 .*$WORK/signal" | head -n 1)"
set +e
wait "$pid"
code=$?
set -e
[ "$code" -eq 75 ] || fail "signal during a background write: exit $code: $(tail -n 3 "$WORK/signal.log")"
ls "$WORK/signal/ckpt-000000000100.h5" > /dev/null || fail "checkpoint 100 did not land"
last=$(ls "$WORK/signal" | grep -E '^ckpt-[0-9]+\.h5$' | sort | tail -n 1)
[ "$last" != ckpt-000000000100.h5 ] || fail "no checkpoint written for the signal"
ls "$WORK/signal"/*.tmp > /dev/null 2>&1 && fail "a temporary survived: $(ls "$WORK/signal")"
run 2 "${common[@]}" --checkpoint-dir "$WORK/signal" --resume auto --save "$WORK/signal.h5" \
    > "$WORK/signal-resume.log" || fail "resume failed: $(tail -n 3 "$WORK/signal-resume.log")"
"$COMPARE_MODELS" "$WORK/full.h5" "$WORK/signal.h5" 0 > /dev/null ||
    fail "the run resumed after a signal during a background write is not exact"
echo "signal during a background write: exit 75, $last written after checkpoint 100, resumed exactly"
echo "1 passed, 0 failed"
