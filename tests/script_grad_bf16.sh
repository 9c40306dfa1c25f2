# --grad-precision bf16 (docs/design.md, "Mixed precision"): each rank's gradient is rounded to
# bf16 once and the parts are added in float32 in rank order, by the sharded update, so
#  - the node-shared path and the all-to-all path (NNDIST_UPDATE=reduce-scatter) give the same
#    model bitwise, on 2 and 3 ranks (uneven shards), also with --precision bf16;
#  - the model is not the float32 sums' one, but close (1e-2 relative after 3 epochs);
#  - on 1 rank nothing is summed: the float32 model bitwise, and the start-up line says so;
#  - a non-finite part skips the step, reported once;
#  - a checkpoint resumes without it (not part of the run definition); a sweep's printed
#    command carries it;
#  - refused with --deterministic, --overlap, NNDIST_UPDATE=replicated and an unknown value.
source "$(dirname "$0")/lib.sh"

"$MAKE_DATASET" "$WORK/train.h5" 997 12 4 7
base=(train --data "$WORK/train.h5" --layers 12,32,16,4 --batch 100 --lr 0.05 --optimizer adam
      --no-progress)
three=("${base[@]}" --epochs 3)

for np in 2 3; do
    for prec in fp32 bf16; do
        tag=$np-$prec
        run $np "${three[@]}" --grad-precision bf16 --precision $prec --save "$WORK/shm-$tag.h5" \
            > "$WORK/shm-$tag.log" || fail "shm, $tag: $(tail -n 2 "$WORK/shm-$tag.log")"
        NNDIST_UPDATE=reduce-scatter run $np "${three[@]}" --grad-precision bf16 --precision $prec \
            --save "$WORK/a2a-$tag.h5" > "$WORK/a2a-$tag.log" || fail "all-to-all, $tag"
        grep -q "^gradient sums: each rank's part rounded to bf16 .*(node-shared memory)" \
            "$WORK/shm-$tag.log" || fail "no node-shared line: $(cat "$WORK/shm-$tag.log")"
        grep -q "^gradient sums: .*(all-to-all" "$WORK/a2a-$tag.log" ||
            fail "no all-to-all line: $(cat "$WORK/a2a-$tag.log")"
        out=$("$COMPARE_MODELS" "$WORK/shm-$tag.h5" "$WORK/a2a-$tag.h5" 0) ||
            fail "$tag: node-shared and all-to-all differ: $out"
    done
done
echo "node-shared and all-to-all bf16 sums: bitwise the same model on 2 and 3 ranks"

run 2 "${three[@]}" --save "$WORK/fp32-2.h5" > /dev/null || fail "fp32 sums"
if "$COMPARE_MODELS" "$WORK/fp32-2.h5" "$WORK/shm-2-fp32.h5" 1e-7 > /dev/null; then
    fail "--grad-precision bf16 gave the float32 sums' model"
fi
out=$("$COMPARE_MODELS" "$WORK/fp32-2.h5" "$WORK/shm-2-fp32.h5" 1e-2) ||
    fail "bf16 sums far from float32's: $out"
echo "bf16 vs float32 sums, 2 ranks, 3 epochs: ${out#compare: }"

run 1 "${three[@]}" --save "$WORK/one.h5" > /dev/null || fail "1 rank"
run 1 "${three[@]}" --grad-precision bf16 --save "$WORK/one-bf16.h5" > "$WORK/one.log" ||
    fail "1 rank with --grad-precision bf16"
grep -q "^gradient sums: none on 1 rank" "$WORK/one.log" || fail "1 rank: $(cat "$WORK/one.log")"
"$COMPARE_MODELS" "$WORK/one.h5" "$WORK/one-bf16.h5" 0 > /dev/null ||
    fail "1 rank: --grad-precision bf16 changed the model"

for how in auto reduce-scatter; do
    NNDIST_UPDATE=$how NNDIST_FAULT=nan@1:7 run 2 "${base[@]}" --grad-precision bf16 --steps 12 \
        > /dev/null 2> "$WORK/nan.err" || fail "$how: a NaN part stopped the run: $(cat "$WORK/nan.err")"
    [ "$(grep -c 'step 7: the gradient is not finite; step skipped' "$WORK/nan.err")" -eq 1 ] ||
        fail "$how: the NaN step not reported once: $(cat "$WORK/nan.err")"
done

# ---- resume, sweep ----
run 2 "${base[@]}" --steps 12 --grad-precision bf16 --checkpoint-dir "$WORK/ck" \
    --checkpoint-every 6 > /dev/null || fail "bf16 sums run to resume"
run 2 "${base[@]}" --steps 20 --checkpoint-dir "$WORK/ck" --resume auto > "$WORK/r.log" 2>&1 ||
    fail "resume with float32 sums: $(tail -n 3 "$WORK/r.log")"
grep -q "resuming from" "$WORK/r.log" || fail "float32 sums did not resume: $(cat "$WORK/r.log")"
run 2 sweep --data "$WORK/train.h5" --layers 12,32,16,4 --optimizers sgd --lrs 0.1 --folds 2 \
    --epochs 2 --group-size 2 --grad-precision bf16 --out "$WORK/sw" < /dev/null \
    > "$WORK/sw.log" 2>&1 || fail "sweep: $(tail -n 3 "$WORK/sw.log")"
want=$(sweep_fold1_reproduced "$WORK/sw.log" "$WORK/sw" " --grad-precision bf16")
echo "sweep fold 1 with bf16 sums: validation loss $want, reproduced by train"

refused "--grad-precision bf16 and --deterministic exclude each other" "${base[@]}" \
    --grad-precision bf16 --deterministic
refused "--grad-precision bf16 and --overlap exclude each other" "${base[@]}" \
    --grad-precision bf16 --overlap
NNDIST_UPDATE=replicated refused "--grad-precision bf16 needs the sharded update" "${base[@]}" \
    --grad-precision bf16
refused "--grad-precision: unknown 'fp8'; expected fp32 or bf16" "${base[@]}" --grad-precision fp8
echo "1 passed, 0 failed"
