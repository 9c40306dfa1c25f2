# --class-weights and --label-smoothing (docs/design.md, "Class weights and label smoothing"):
#  - 'balanced' equals numpy's n_samples / (n_classes * bincount(y)) (sklearn's definition) bit
#    for bit, on 1, 2 and 3 ranks; a class without samples is refused, named;
#  - weights and smoothing on 1, 2 and 3 ranks give the same model to 1e-5 (the weights' sum is
#    the denominator, summed over the ranks), and with --deterministic the same bits, the
#    epoch lines (losses, validation loss) included;
#  - eval's loss of the saved model is training's last validation loss (the model's own
#    definition, read from the file), and info shows the attributes;
#  - a resumed run with other options is refused by its run definition, the same options resume;
#  - the paths of the gradient's sum (--overlap, reduce-scatter, replicated) agree with 1 rank;
#  - lr-find and sweep take both options; a sweep's fold is reproduced by its printed command;
#  - refusals: a wrong count, a non-positive weight, eps outside [0, 1), either option with mse.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2> /dev/null || { echo "SKIP: needs python3-numpy and python3-h5py"; exit 77; }

# An imbalanced 4-class dataset (shares 0.5, 0.25, 0.15, 0.10), its validation part, and one
# where class 3 never occurs.
"$PY" - "$WORK" << 'EOF'
import sys
import h5py
import numpy as np
work = sys.argv[1]
rng = np.random.RandomState(7)
centres = rng.uniform(-1, 1, size=(4, 12))
def write(path, n, shares):
    y = rng.choice(len(shares), size=n, p=shares).astype(np.int32)
    x = (centres[y] + 0.8 * rng.standard_normal((n, 12))).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["X"] = x
        f["y"] = y
write(f"{work}/train.h5", 997, [0.5, 0.25, 0.15, 0.10])
write(f"{work}/val.h5", 301, [0.5, 0.25, 0.15, 0.10])
write(f"{work}/three.h5", 200, [0.5, 0.3, 0.2])
EOF
base=(train --data "$WORK/train.h5" --layers 12,16,4 --no-progress)

# ---- balanced weights against numpy, on 1, 2 and 3 ranks ----
for np in 1 2 3; do
    run $np "${base[@]}" --steps 1 --class-weights balanced --save "$WORK/bal-$np.h5" \
        > "$WORK/bal-$np.log" || fail "balanced at $np ranks: $(tail -n 2 "$WORK/bal-$np.log")"
done
grep -q "loss: softmax-ce with class weights (balanced) " "$WORK/bal-2.log" ||
    fail "no line naming the balanced weights: $(cat "$WORK/bal-2.log")"
"$PY" - "$WORK" << 'EOF' || fail "balanced weights differ from numpy's"
import sys
import h5py
import numpy as np
work = sys.argv[1]
with h5py.File(f"{work}/train.h5", "r") as f:
    y = f["y"][...]
# sklearn.utils.class_weight.compute_class_weight('balanced'): n / (k * bincount) in float64
want = len(y) / (4 * np.bincount(y, minlength=4).astype(np.float64))
for np_ in (1, 2, 3):
    with h5py.File(f"{work}/bal-{np_}.h5", "r") as f:
        got = f.attrs["class_weights"]
    if got.dtype != np.float64 or not np.array_equal(got, want):
        print(f"{np_} ranks: {got!r}, numpy: {want!r}")
        sys.exit(1)
print("balanced:", ", ".join(f"{w:.17g}" for w in want), "(bitwise numpy's, 1 to 3 ranks)")
EOF
if run 2 train --data "$WORK/three.h5" --layers 12,16,4 --steps 1 --class-weights balanced \
    > "$WORK/missing.log" 2>&1; then
    fail "balanced weights with a class missing from the data were accepted"
fi
grep -q "class 3 has no sample among the 200 training samples" "$WORK/missing.log" ||
    fail "missing class: $(cat "$WORK/missing.log")"

# ---- rank-count invariance: to round-off, and bitwise with --deterministic ----
opts=(--class-weights 0.5,2,1.5,3 --label-smoothing 0.1 --batch 100 --epochs 3 --lr 0.1
      --optimizer momentum --val "$WORK/val.h5")
for np in 1 2 3; do
    run $np "${base[@]}" "${opts[@]}" --save "$WORK/inv-$np.h5" --metrics "$WORK/inv-$np.csv" \
        > "$WORK/inv-$np.log" || fail "weights+smoothing at $np ranks failed"
    run $np "${base[@]}" "${opts[@]}" --class-weights balanced --deterministic \
        --save "$WORK/det-$np.h5" > "$WORK/det-$np.log" ||
        fail "deterministic at $np ranks failed: $(tail -n 2 "$WORK/det-$np.log")"
done
for np in 2 3; do
    out=$("$COMPARE_MODELS" "$WORK/inv-1.h5" "$WORK/inv-$np.h5" 1e-5) ||
        fail "1 and $np ranks differ: $out"
    echo "weights+smoothing, 1 vs $np ranks: ${out#compare: }"
    "$CKPT_DIGEST" "$WORK/det-$np.h5" | cmp -s - <("$CKPT_DIGEST" "$WORK/det-1.h5") ||
        fail "--deterministic: 1 and $np ranks differ"
    cmp -s <(grep '^epoch' "$WORK/det-1.log" | sed 's/  [0-9]* samples\/s.*//') \
        <(grep '^epoch' "$WORK/det-$np.log" | sed 's/  [0-9]* samples\/s.*//') ||
        fail "--deterministic: the epoch lines of 1 and $np ranks differ"
done
echo "--deterministic with balanced weights and smoothing: 1, 2, 3 ranks bitwise equal"
# The other paths of the gradient's sum carry the weights' sum too.
run 2 "${base[@]}" "${opts[@]}" --overlap --save "$WORK/path-overlap.h5" > /dev/null ||
    fail "--overlap failed"
NNDIST_UPDATE=reduce-scatter run 3 "${base[@]}" "${opts[@]}" \
    --save "$WORK/path-reduce-scatter.h5" > /dev/null || fail "reduce-scatter failed"
NNDIST_UPDATE=replicated run 2 "${base[@]}" "${opts[@]}" --save "$WORK/path-replicated.h5" \
    > /dev/null || fail "replicated failed"
for how in overlap reduce-scatter replicated; do
    out=$("$COMPARE_MODELS" "$WORK/inv-1.h5" "$WORK/path-$how.h5" 1e-5) || fail "$how: $out"
done
NNDIST_UPDATE=reduce-scatter run 3 "${base[@]}" "${opts[@]}" --class-weights balanced \
    --deterministic --save "$WORK/det-rs.h5" > /dev/null || fail "deterministic reduce-scatter"
"$CKPT_DIGEST" "$WORK/det-rs.h5" | cmp -s - <("$CKPT_DIGEST" "$WORK/det-1.h5") ||
    fail "--deterministic: reduce-scatter at 3 ranks differs from 1 rank"
# Without the weights the model is another: the comparison can fail.
run 1 "${base[@]}" "${opts[@]}" --class-weights 1,1,1,1 --save "$WORK/unweighted.h5" > /dev/null ||
    fail "unit weights failed"
if "$COMPARE_MODELS" "$WORK/inv-1.h5" "$WORK/unweighted.h5" 1e-3 > /dev/null; then
    fail "class weights left the model unchanged"
fi

# ---- eval: the model's own loss is training's validation loss; info shows the options ----
for np in 1 3; do
    val=$(tail -n 1 "$WORK/inv-$np.csv" | cut -d, -f6)
    ev=$(run $np eval --model "$WORK/inv-$np.h5" --data "$WORK/val.h5" --json < /dev/null |
        sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
    awk -v a="$val" -v b="$ev" 'BEGIN { d = a - b; exit !(d <= 2e-6 && d >= -2e-6) }' ||
        fail "$np ranks: eval's loss $ev, training's validation loss $val"
    echo "$np ranks: training's validation loss $val, eval's $ev"
done
run 1 eval --model "$WORK/inv-1.h5" --data "$WORK/val.h5" < /dev/null > "$WORK/eval.txt"
grep -q "loss with the model's own class weights 0.5,2,1.5,3 and label smoothing 0.1" \
    "$WORK/eval.txt" || fail "eval does not name the model's loss: $(head -n 3 "$WORK/eval.txt")"
run 1 info "$WORK/inv-1.h5" < /dev/null > "$WORK/info.txt"
grep -Eq '^  class_weights +0.5,2,1.5,3$' "$WORK/info.txt" || fail "info: no class_weights"
grep -Eq '^  label_smoothing +0.1$' "$WORK/info.txt" || fail "info: no label_smoothing"
# (into a file: grep -q on a pipe stops reading at its match, and under pipefail the writer's
# SIGPIPE would fail the test at random)
run 1 info "$WORK/unweighted.h5" < /dev/null > "$WORK/info_unweighted.txt"
grep -q label_smoothing "$WORK/info_unweighted.txt" ||
    fail "info: the unit weights' run lost its smoothing"
run 1 "${base[@]}" --steps 1 --save "$WORK/plain.h5" > /dev/null || fail "plain run failed"
if run 1 info "$WORK/plain.h5" < /dev/null | grep -Eq 'class_weights|label_smoothing'; then
    fail "a run without the options stores them"
fi

# ---- resuming: the options are part of the run definition ----
ck=("${base[@]}" --class-weights balanced --label-smoothing 0.05 --batch 100 --lr 0.1
    --checkpoint-dir "$WORK/ck")
run 2 "${ck[@]}" --steps 5 > /dev/null || fail "run to resume failed"
if run 2 "${ck[@]}" --steps 10 --label-smoothing 0.2 --resume auto > "$WORK/other.log" 2>&1; then
    fail "a run with another --label-smoothing resumed the checkpoint"
fi
grep -q "label-smoothing=0.05 where this run has label-smoothing=0.2" "$WORK/other.log" ||
    fail "resume with other smoothing: $(cat "$WORK/other.log")"
run 2 "${ck[@]}" --steps 10 --resume auto > "$WORK/same.log" 2>&1 ||
    fail "resume with the same options failed: $(tail -n 3 "$WORK/same.log")"
grep -q "resuming from" "$WORK/same.log" || fail "the same options did not resume"

# ---- lr-find and sweep take both ----
run 2 lr-find --data "$WORK/train.h5" --layers 12,16,4 --batch 64 --steps 30 \
    --class-weights balanced --label-smoothing 0.1 --out-csv "$WORK/lr.csv" \
    < /dev/null > "$WORK/lr.log" 2>&1 || fail "lr-find with both options: $(tail -n 3 "$WORK/lr.log")"
# The sweep balances each fold over its own training rows; its printed command for fold 1
# (that fold's files) reproduces the fold's validation loss.
run 2 sweep --data "$WORK/train.h5" --layers 12,16,4 --optimizers sgd --lrs 0.1 --folds 2 \
    --epochs 2 --class-weights balanced --label-smoothing 0.1 --out "$WORK/sw" \
    < /dev/null > "$WORK/sw.log" 2>&1 || fail "sweep with both options: $(tail -n 3 "$WORK/sw.log")"
want=$(sweep_fold1_reproduced "$WORK/sw.log" "$WORK/sw" \
    " --class-weights balanced --label-smoothing 0.1 ")
echo "sweep fold 1 with balanced weights: validation loss $want, reproduced by train"

# ---- refusals: one message, exit 2 ----
refused "3 weights given; the output layer has 4 classes, so expected 4" \
    "${base[@]}" --class-weights 1,2,3
refused "the weight of class 1 is -2; every weight must be a positive finite number" \
    "${base[@]}" --class-weights 1,-2,3,4
refused "the weight of class 3 is 0" "${base[@]}" --class-weights 1,2,3,0
refused "--label-smoothing 1: expected a value in [0, 1)" "${base[@]}" --label-smoothing 1
refused "--label-smoothing" "${base[@]}" --label-smoothing -0.1
refused "--class-weights applies to --loss softmax-ce only" \
    train --data "$WORK/train.h5" --layers 12,4 --loss mse --class-weights 1,1,1,1
refused "--label-smoothing applies to --loss softmax-ce only" \
    train --data "$WORK/train.h5" --layers 12,4 --loss mse --label-smoothing 0.1
refused "--class-weights: 2 weights given" lr-find --data "$WORK/train.h5" --layers 12,16,4 \
    --class-weights 1,2
echo "1 passed, 0 failed"
