# --norm layer and --norm batch in training (docs/design.md, "Normalization"): layer norm per
# sample, batch norm over the global batch (its sums over the ranks), so
#  - 1, 2, 3 and 4 ranks give the same model to round-off (1e-5 relative), γ and β (and batch
#    norm's running statistics) included, on the replicated, reduce-scatter and --overlap paths,
#    with lars (per-tensor trust ratios over the new tensors) and with dropout;
#  - batch norm with ranks that hold no samples (20 samples, 4 ranks: 2 stripes) ends, equal to
#    1 rank: the empty ranks take part in the sums;
#  - a run stopped mid-epoch resumes (its γ, β and their optimizer state from the checkpoint) to
#    the uninterrupted run's bits on the same rank count, and batch norm on another rank count
#    (2 to 3) to 1e-5;
#  - the model file holds norm and γ, β (and the running statistics): eval reads them (for batch
#    norm its loss is training's validation loss, both with the running statistics), --init and
#    --resume with another --norm are refused, naming both;
#  - lr-find and sweep take it; --deterministic and a model without hidden layers are refused.
source "$(dirname "$0")/lib.sh"

"$MAKE_DATASET" "$WORK/train.h5" 997 12 4 7
"$MAKE_DATASET" "$WORK/val.h5" 301 12 4 8
"$MAKE_DATASET" "$WORK/small.h5" 20 12 4 9
base=(train --data "$WORK/train.h5" --val "$WORK/val.h5" --layers 12,32,16,4 --norm layer
      --batch 100 --lr 0.01 --optimizer adam --no-progress)

for norm in layer batch; do
    for np in 1 2 3 4; do
        run $np "${base[@]}" --norm $norm --epochs 3 --save "$WORK/$norm-$np.h5" \
            --metrics "$WORK/$norm-$np.csv" > "$WORK/$norm-$np.log" ||
            fail "$norm at $np ranks: $(tail -n 2 "$WORK/$norm-$np.log")"
    done
    for np in 2 3 4; do
        out=$("$COMPARE_MODELS" "$WORK/$norm-1.h5" "$WORK/$norm-$np.h5" 1e-5) ||
            fail "$norm: 1 and $np ranks: $out"
        echo "$norm norm, 1 vs $np ranks: $(echo "$out" | sed 's/^compare: //' | tr '\n' ' ')"
    done
    NNDIST_UPDATE=reduce-scatter run 3 "${base[@]}" --norm $norm --epochs 3 --save "$WORK/rs.h5" \
        > /dev/null || fail "$norm: reduce-scatter failed"
    NNDIST_UPDATE=replicated run 2 "${base[@]}" --norm $norm --epochs 3 --save "$WORK/rep.h5" \
        > /dev/null || fail "$norm: replicated failed"
    run 2 "${base[@]}" --norm $norm --epochs 3 --overlap --save "$WORK/ovl.h5" > /dev/null ||
        fail "$norm: --overlap"
    for how in rs rep ovl; do
        out=$("$COMPARE_MODELS" "$WORK/$norm-1.h5" "$WORK/$how.h5" 1e-5) ||
            fail "$norm: path $how: $out"
    done
    for opt in "lars --lr 0.5" "momentum --lr 0.05"; do
        for np in 1 3; do
            # shellcheck disable=SC2086
            run $np "${base[@]}" --norm $norm --epochs 2 --optimizer $opt --dropout 0.2 \
                --activation tanh --save "$WORK/o-$np.h5" > /dev/null || fail "$opt at $np ranks"
        done
        out=$("$COMPARE_MODELS" "$WORK/o-1.h5" "$WORK/o-3.h5" 1e-5) ||
            fail "$norm, $opt: 1 and 3 ranks: $out"
        echo "$norm norm + dropout 0.2, ${opt%% *}, 1 vs 3 ranks: ${out%%$'\n'*}"
    done
done
ln=$WORK/layer-1.h5
# Batch norm where two of four ranks hold no samples: they take part in every sum.
for np in 1 4; do
    run $np train --data "$WORK/small.h5" --layers 12,16,4 --norm batch --batch 20 --epochs 3 \
        --no-progress --save "$WORK/empty-$np.h5" > "$WORK/empty-$np.log" 2>&1 ||
        fail "batch norm, 20 samples at $np ranks: $(tail -n 3 "$WORK/empty-$np.log")"
done
grep -q "ranks hold no data" "$WORK/empty-4.log" || fail "no empty rank: $(cat "$WORK/empty-4.log")"
out=$("$COMPARE_MODELS" "$WORK/empty-1.h5" "$WORK/empty-4.h5" 1e-5) ||
    fail "batch norm with empty ranks: $out"
echo "batch norm, 2 of 4 ranks without samples: equal to 1 rank"
# Without the normalization the model is another: the comparison can fail.
run 1 train --data "$WORK/train.h5" --layers 12,32,16,4 --batch 100 --lr 0.01 --optimizer adam \
    --epochs 3 --no-progress --save "$WORK/plain.h5" > /dev/null || fail "no norm"
if "$COMPARE_MODELS" "$ln" "$WORK/plain.h5" 1e-3 > /dev/null 2>&1; then
    fail "--norm layer left the model unchanged"
fi

# ---- resume: γ, β, their optimizer state and the running statistics come back ----
for norm in layer batch; do
    ck=("${base[@]}" --norm $norm --checkpoint-dir "$WORK/ck-$norm")
    run 2 "${base[@]}" --norm $norm --steps 25 --save "$WORK/whole.h5" > /dev/null ||
        fail "$norm: uninterrupted run"
    run 2 "${ck[@]}" --steps 13 --checkpoint-every 13 > /dev/null || fail "$norm: the run to resume"
    run 2 "${ck[@]}" --steps 25 --resume auto --save "$WORK/resumed.h5" > "$WORK/resumed.log" 2>&1 ||
        fail "$norm: resume: $(tail -n 3 "$WORK/resumed.log")"
    grep -q "resuming from" "$WORK/resumed.log" || fail "did not resume: $(cat "$WORK/resumed.log")"
    "$CKPT_DIGEST" "$WORK/resumed.h5" | cmp -s - <("$CKPT_DIGEST" "$WORK/whole.h5") ||
        fail "$norm: stopped at step 13 and resumed: not the uninterrupted run"
    echo "$norm norm: stopped mid-epoch and resumed: bitwise the uninterrupted run"
done
mv "$WORK/ck-layer" "$WORK/ck"
# On another rank count: batch norm's statistics span whichever ranks hold the batch.
ck=("${base[@]}" --norm batch --checkpoint-dir "$WORK/ck-np")
run 2 "${ck[@]}" --steps 13 --checkpoint-every 13 > /dev/null || fail "the run to resume at 3"
run 3 "${ck[@]}" --steps 25 --resume auto --save "$WORK/resumed3.h5" > "$WORK/resumed3.log" 2>&1 ||
    fail "resume at 3 ranks: $(tail -n 3 "$WORK/resumed3.log")"
grep -q "resuming from" "$WORK/resumed3.log" || fail "did not resume: $(cat "$WORK/resumed3.log")"
out=$("$COMPARE_MODELS" "$WORK/whole.h5" "$WORK/resumed3.h5" 1e-5) ||
    fail "batch norm resumed from 2 ranks on 3: $out"
echo "batch norm, stopped at 2 ranks and resumed on 3: $(echo "$out" | tail -n 1 | sed 's/^compare: //')"

# ---- the file: eval, info, and other --norm refused ----
for np in 1 3; do
    val=$(tail -n 1 "$WORK/batch-$np.csv" | cut -d, -f6)
    ev=$(run $np eval --model "$WORK/batch-$np.h5" --data "$WORK/val.h5" --json < /dev/null |
        sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
    awk -v a="$val" -v b="$ev" 'BEGIN { d = a - b; exit !(d <= 2e-6 && d >= -2e-6) }' ||
        fail "$np ranks: eval's loss $ev, training's validation loss $val"
    echo "$np ranks: training's validation loss $val, eval's $ev"
done
run 1 info "$ln" < /dev/null > "$WORK/info.txt"
grep -Eq '^  norm +layer$' "$WORK/info.txt" || fail "info: no norm attribute"
grep -q '/model/layer_1/gamma' "$WORK/info.txt" || fail "info: no gamma"
if run 2 train --data "$WORK/train.h5" --layers 12,32,16,4 --steps 2 --init "$ln" \
    > "$WORK/init.log" 2>&1; then
    fail "--init from a layer-norm model into one without was accepted"
fi
grep -q "the model was trained with --norm layer, this run asks for none" "$WORK/init.log" ||
    fail "--init: $(cat "$WORK/init.log")"
if run 2 "${base[@]}" --steps 25 --norm none --checkpoint-dir "$WORK/ck" --resume auto \
    > "$WORK/other.log" 2>&1; then
    fail "a run without --norm resumed a layer-norm checkpoint"
fi
grep -q "the model was trained with --norm layer, this run asks for none" "$WORK/other.log" ||
    fail "resume with another --norm: $(cat "$WORK/other.log")"

# ---- lr-find and sweep ----
run 2 lr-find --data "$WORK/train.h5" --layers 12,32,16,4 --norm layer --batch 64 --steps 30 \
    --out-csv "$WORK/lr.csv" < /dev/null > "$WORK/lr.log" 2>&1 ||
    fail "lr-find with --norm: $(tail -n 3 "$WORK/lr.log")"
run 2 sweep --data "$WORK/train.h5" --layers 12,32,16,4 --norm layer --optimizers adam \
    --lrs 0.01 --folds 2 --epochs 2 --out "$WORK/sw" < /dev/null > "$WORK/sw.log" 2>&1 ||
    fail "sweep with --norm: $(tail -n 3 "$WORK/sw.log")"
want=$(sweep_fold1_reproduced "$WORK/sw.log" "$WORK/sw" " --norm layer ")
echo "sweep fold 1 with layer norm: validation loss $want, reproduced by train"

refused "--norm layer and --deterministic exclude each other for now" "${base[@]}" --deterministic
refused "--norm: unknown 'group'; expected none, layer or batch" "${base[@]}" --norm group
refused "--norm applies to hidden layers, and --layers gives none" \
    train --data "$WORK/train.h5" --layers 12,4 --norm layer
echo "1 passed, 0 failed"
