# --dropout (docs/design.md, "Dropout"): masks keyed by (seed, step, sample, layer, unit), so
#  - 1, 2, 3 and 4 ranks give the same model to round-off (1e-5 relative), ReLU (dropped in
#    place) and tanh (its own buffer and mask), on the replicated, reduce-scatter and --overlap
#    paths; with --deterministic the same bits, per-layer probabilities, input dropout and gelu;
#    --input-dropout alone on 1 and 4 ranks;
#  - a run stopped mid-epoch and resumed on another rank count continues the same masks (with
#    --deterministic: bitwise the uninterrupted run);
#  - the validation, eval and predict never drop: eval's loss of the saved model is training's
#    last validation loss, and a dropout of 0.5 changes the trained model;
#  - dropout is part of the run definition (another value does not resume), the sweep's printed
#    command and lr-find take it; refusals name what was wrong.
source "$(dirname "$0")/lib.sh"

"$MAKE_DATASET" "$WORK/train.h5" 997 12 4 7
"$MAKE_DATASET" "$WORK/val.h5" 301 12 4 8
base=(train --data "$WORK/train.h5" --val "$WORK/val.h5" --layers 12,32,16,4 --batch 100
      --lr 0.1 --optimizer momentum --no-progress)

# ---- rank-count invariance ----
for act in relu tanh; do
    for np in 1 2 3 4; do
        run $np "${base[@]}" --epochs 3 --activation $act --dropout 0.3 --save "$WORK/$act-$np.h5" \
            --metrics "$WORK/$act-$np.csv" > "$WORK/$act-$np.log" ||
            fail "$act at $np ranks: $(tail -n 2 "$WORK/$act-$np.log")"
    done
    for np in 2 3 4; do
        out=$("$COMPARE_MODELS" "$WORK/$act-1.h5" "$WORK/$act-$np.h5" 1e-5) ||
            fail "$act: 1 and $np ranks differ: $out"
        echo "$act, dropout 0.3, 1 vs $np ranks: ${out#compare: }"
    done
done
NNDIST_UPDATE=reduce-scatter run 3 "${base[@]}" --epochs 3 --dropout 0.3 --save "$WORK/rs.h5" > /dev/null ||
    fail "reduce-scatter failed"
NNDIST_UPDATE=replicated run 2 "${base[@]}" --epochs 3 --dropout 0.3 --save "$WORK/rep.h5" > /dev/null ||
    fail "replicated failed"
run 2 "${base[@]}" --epochs 3 --dropout 0.3 --overlap --save "$WORK/ovl.h5" > /dev/null || fail "--overlap"
for how in rs rep ovl; do
    out=$("$COMPARE_MODELS" "$WORK/relu-1.h5" "$WORK/$how.h5" 1e-5) || fail "path $how: $out"
done
# Without dropout the model is another: the comparison can fail.
run 1 "${base[@]}" --epochs 3 --save "$WORK/none.h5" > /dev/null || fail "no dropout"
if "$COMPARE_MODELS" "$WORK/relu-1.h5" "$WORK/none.h5" 1e-3 > /dev/null; then
    fail "--dropout 0.3 left the model unchanged"
fi

for act in relu gelu; do
    for np in 1 3; do
        run $np "${base[@]}" --epochs 3 --activation $act --dropout 0.2:0.5 --deterministic \
            --input-dropout 0.1 \
            --save "$WORK/det-$act-$np.h5" > "$WORK/det-$act-$np.log" ||
            fail "deterministic $act at $np ranks: $(tail -n 2 "$WORK/det-$act-$np.log")"
    done
    "$CKPT_DIGEST" "$WORK/det-$act-3.h5" | cmp -s - <("$CKPT_DIGEST" "$WORK/det-$act-1.h5") ||
        fail "--deterministic $act with dropout: 1 and 3 ranks differ"
done
echo "--deterministic --dropout 0.2:0.5 --input-dropout 0.1: 1 and 3 ranks bitwise equal (relu, gelu)"
for np in 1 4; do
    run $np "${base[@]}" --epochs 3 --input-dropout 0.2 --save "$WORK/in-$np.h5" > /dev/null ||
        fail "--input-dropout at $np ranks"
done
out=$("$COMPARE_MODELS" "$WORK/in-1.h5" "$WORK/in-4.h5" 1e-5) || fail "--input-dropout: $out"
if "$COMPARE_MODELS" "$WORK/in-1.h5" "$WORK/none.h5" 1e-3 > /dev/null; then
    fail "--input-dropout 0.2 left the model unchanged"
fi
echo "--input-dropout 0.2, 1 vs 4 ranks: ${out#compare: }"

# ---- resume on another rank count ----
det=("${base[@]}" --activation tanh --dropout 0.4 --deterministic)
run 2 "${det[@]}" --steps 25 --save "$WORK/whole.h5" > /dev/null || fail "uninterrupted run"
run 2 "${det[@]}" --steps 13 --checkpoint-dir "$WORK/ck" --checkpoint-every 13 > /dev/null ||
    fail "the run to resume"
run 3 "${det[@]}" --steps 25 --checkpoint-dir "$WORK/ck" --resume auto --save "$WORK/resumed.h5" \
    > "$WORK/resumed.log" 2>&1 || fail "resume at 3 ranks: $(tail -n 3 "$WORK/resumed.log")"
grep -q "resuming from" "$WORK/resumed.log" || fail "did not resume: $(cat "$WORK/resumed.log")"
"$CKPT_DIGEST" "$WORK/resumed.h5" | cmp -s - <("$CKPT_DIGEST" "$WORK/whole.h5") ||
    fail "stopped at step 13 of 2 ranks and resumed on 3: not the uninterrupted run"
echo "stopped mid-epoch at 2 ranks, resumed at 3: bitwise the uninterrupted run"
if run 2 "${det[@]}" --steps 25 --dropout 0.1 --checkpoint-dir "$WORK/ck" --resume auto \
    > "$WORK/other.log" 2>&1; then
    fail "a run with another --dropout resumed the checkpoint"
fi
grep -q "dropout=0.4 where this run has dropout=0.1" "$WORK/other.log" ||
    fail "resume with another dropout: $(cat "$WORK/other.log")"

# ---- no dropout in the validation, eval and predict ----
for np in 1 3; do
    val=$(tail -n 1 "$WORK/tanh-$np.csv" | cut -d, -f6)
    ev=$(run $np eval --model "$WORK/tanh-$np.h5" --data "$WORK/val.h5" --json < /dev/null |
        sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
    awk -v a="$val" -v b="$ev" 'BEGIN { d = a - b; exit !(d <= 2e-6 && d >= -2e-6) }' ||
        fail "$np ranks: eval's loss $ev, training's validation loss $val"
    echo "$np ranks: training's validation loss $val, eval's $ev"
done
for i in 1 2; do
    run 2 predict --model "$WORK/tanh-1.h5" --data "$WORK/val.h5" --out "$WORK/p$i.csv" \
        < /dev/null > /dev/null || fail "predict"
done
cmp -s "$WORK/p1.csv" "$WORK/p2.csv" || fail "predict draws masks: two runs differ"

# ---- lr-find and sweep ----
run 2 lr-find --data "$WORK/train.h5" --layers 12,32,16,4 --batch 64 --steps 30 --dropout 0.2 \
    --out-csv "$WORK/lr.csv" < /dev/null > "$WORK/lr.log" 2>&1 ||
    fail "lr-find with --dropout: $(tail -n 3 "$WORK/lr.log")"
run 2 sweep --data "$WORK/train.h5" --layers 12,32,16,4 --optimizers sgd --lrs 0.1 --folds 2 \
    --epochs 2 --dropout 0.25:0.5 --out "$WORK/sw" < /dev/null > "$WORK/sw.log" 2>&1 ||
    fail "sweep with --dropout: $(tail -n 3 "$WORK/sw.log")"
want=$(sweep_fold1_reproduced "$WORK/sw.log" "$WORK/sw" " --dropout 0.25:0.5 ")
echo "sweep fold 1 with dropout: validation loss $want, reproduced by train"

# ---- refusals: one message, exit 2 ----
refused "--dropout 1: expected a probability in [0, 1)" "${base[@]}" --dropout 1
refused "--dropout 0.2,0.5: separate one probability per hidden layer with ':'" \
    "${base[@]}" --dropout 0.2,0.5
refused "--dropout 0.1:0.2:0.3: 3 values for 2 hidden layers" "${base[@]}" --dropout 0.1:0.2:0.3
refused "--input-dropout 1: expected a probability in [0, 1)" "${base[@]}" --input-dropout 1
refused "--dropout applies to hidden layers, and --layers gives none" \
    train --data "$WORK/train.h5" --layers 12,4 --dropout 0.5
echo "1 passed, 0 failed"
