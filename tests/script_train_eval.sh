# A small synthetic problem trains below a loss threshold; eval agrees with train's numbers;
# metrics, --init, every activation, mse, uint8 features and int64 labels all work end to end.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 2000 16 5 11
"$MAKE_DATASET" "$WORK/test.h5" 500 16 5 11
run 2 train --data "$WORK/train.h5" --val "$WORK/test.h5" --layers 16,32,5 --lr 0.2 --epochs 8 \
    --batch 50 --metrics "$WORK/m.csv" --save "$WORK/model.h5" > "$WORK/log.txt" ||
    fail "train failed: $(cat "$WORK/log.txt")"
last_loss=$(tail -n 1 "$WORK/m.csv" | cut -d, -f4)
awk -v l="$last_loss" 'BEGIN { exit !(l < 0.1) }' || fail "final train loss $last_loss >= 0.1"
[ "$(wc -l < "$WORK/m.csv")" -eq 9 ] || fail "metrics: expected a header and 8 rows"
head -n 1 "$WORK/m.csv" | grep -q '^step,epoch,lr,train_loss,train_acc,val_loss,val_acc' ||
    fail "metrics header: $(head -n 1 "$WORK/m.csv")"
# eval at 1 and 3 ranks gives the val numbers train printed for its last epoch.
val_acc=$(tail -n 1 "$WORK/m.csv" | cut -d, -f7)
for np in 1 3; do
    run $np eval --model "$WORK/model.h5" --data "$WORK/test.h5" --json > "$WORK/eval.json"
    grep -qE '^\{"accuracy": [0-9.]+, "loss": [0-9.]+, "samples": 500, "macro_f1": [0-9.]+\}$' "$WORK/eval.json" ||
        fail "eval --json: $(cat "$WORK/eval.json")"
    acc=$(sed -E 's/.*"accuracy": ([0-9.]+).*/\1/' "$WORK/eval.json")
    awk -v a="$acc" -v b="$val_acc" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' ||
        fail "np=$np: eval accuracy $acc differs from train's val accuracy $val_acc"
done
awk -v a="$acc" 'BEGIN { exit !(a > 0.95) }' || fail "test accuracy $acc <= 0.95"
# --init continues from the saved weights: the first epoch's loss is already low.
run 1 train --data "$WORK/train.h5" --layers 16,32,5 --lr 0.2 --epochs 1 --batch 50 \
    --init "$WORK/model.h5" --metrics "$WORK/init.csv" > /dev/null
init_loss=$(tail -n 1 "$WORK/init.csv" | cut -d, -f4)
awk -v l="$init_loss" 'BEGIN { exit !(l < 0.1) }' || fail "--init did not load: loss $init_loss"
# Other activations, other dtypes, the mse loss: all learn.
"$MAKE_DATASET" "$WORK/u8.h5" 1000 16 5 11 uint8-x
"$MAKE_DATASET" "$WORK/i64.h5" 1000 16 5 11 int64-y
"$MAKE_DATASET" "$WORK/tg.h5" 1000 16 5 11 targets
for args in "--data $WORK/train.h5 --activation tanh" "--data $WORK/train.h5 --activation sigmoid --lr 1" \
            "--data $WORK/i64.h5" "--data $WORK/u8.h5 --lr 0.02" "--data $WORK/tg.h5 --loss mse --lr 0.5"; do
    # shellcheck disable=SC2086
    run 2 train $args --layers 16,24,5 --epochs 6 --batch 32 --metrics "$WORK/x.csv" > /dev/null ||
        fail "train $args failed"
    first=$(sed -n 2p "$WORK/x.csv" | cut -d, -f4)
    last=$(tail -n 1 "$WORK/x.csv" | cut -d, -f4)
    awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < 0.7 * f) }' ||
        fail "train $args: loss went from $first to $last"
    rm -f "$WORK/x.csv"
done
# Every hidden activation learns the 5 classes (chance: 0.2) through two hidden layers, and eval
# takes the activation and its parameter from the file.
for act in gelu gelu-tanh leaky-relu "leaky-relu --leaky-slope 0.2" silu elu "elu --elu-alpha 0.5"; do
    # shellcheck disable=SC2086
    run 2 train --data "$WORK/train.h5" --layers 16,24,12,5 --activation $act --lr 0.2 --epochs 3 \
        --batch 32 --save "$WORK/act.h5" > /dev/null || fail "train --activation $act failed"
    run 1 eval --model "$WORK/act.h5" --data "$WORK/test.h5" --json > "$WORK/act.json" 2>&1 ||
        fail "eval of --activation $act: $(cat "$WORK/act.json")"
    acc=$(sed -E 's/.*"accuracy": ([0-9.]+).*/\1/' "$WORK/act.json")
    awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }' ||
        fail "--activation $act: test accuracy $acc <= 0.9: $(cat "$WORK/act.json")"
done
# --trace writes one valid Chrome trace with a track per rank and every phase on each.
run 2 train --data "$WORK/train.h5" --val "$WORK/test.h5" --layers 16,32,5 --steps 80 --batch 50 \
    --checkpoint-dir "$WORK/trace-ckpt" --checkpoint-every 40 --trace "$WORK/trace.json" > /dev/null
python3 - "$WORK/trace.json" <<'PYEOF' || fail "trace check failed"
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
for rank in (0, 1):
    names = [e["name"] for e in events if e["pid"] == rank and e["ph"] == "X"]
    assert names.count("forward+backward") == 80, (rank, names.count("forward+backward"))
    assert names.count("allreduce") == 80 and names.count("update") == 80
    assert names.count("allgather") == 80, names.count("allgather")  # the sharded update
    assert names.count("checkpoint") == 2 and names.count("evaluation") == 2, names
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in events if e["ph"] == "X")
PYEOF
# --init names a scheme (he, xavier: recorded in the run's definition) or a file, also one
# named like a scheme (./he).
for scheme in he xavier; do
    run 2 train --data "$WORK/train.h5" --layers 16,32,5 --lr 1e-30 --steps 1 --init $scheme \
        --save "$WORK/$scheme.h5" > /dev/null || fail "--init $scheme"
    "$NNDIST" info "$WORK/$scheme.h5" > "$WORK/info_$scheme.txt"
    grep -q "init=$scheme" "$WORK/info_$scheme.txt" || fail "--init $scheme not in the definition"
done
cp "$WORK/model.h5" "$WORK/he"
(cd "$WORK" && run 1 train --data train.h5 --layers 16,32,5 --lr 1e-9 --steps 1 --init ./he \
    --save from_file.h5 > /dev/null) || fail "--init ./he (a file)"
"$COMPARE_MODELS" "$WORK/model.h5" "$WORK/from_file.h5" 1e-6 > /dev/null ||
    fail "--init ./he did not start from the file named he"

# info describes a checkpoint and a dataset.
run 1 info "$WORK/model.h5" > "$WORK/info.txt"
grep -q 'nndist-checkpoint' "$WORK/info.txt" &&
    grep -qE 'layer_1/W .*float32 *\(5, 32\)  checksum [0-9a-f]{16}$' "$WORK/info.txt" ||
    fail "info: $(cat "$WORK/info.txt")"
echo "1 passed, 0 failed"
