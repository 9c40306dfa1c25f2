# --norm layer and --norm batch against PyTorch: 20 full-batch steps from the same initial
# weights, γ and β included, end within 2e-6 relative (max |a - b| / max |a|) of
# torch.nn.functional.layer_norm's and batch_norm's (training mode) networks trained in float64,
# at 1 and 2 ranks: layer norm with sgd and relu, momentum and tanh, adam and gelu; batch norm
# with sgd and relu, momentum and tanh, its running mean and variance compared too (the batch
# then spans both ranks: its statistics are the synchronized ones). eval reads the normalization
# from the trained file, and batch norm's eval mode (the running statistics) gives torch's loss
# of each reference file. Measured at most 3.3e-7 (AVX-512 GEMMs), the size of float32 rounding of
# the weights (2.5e-7, scripts/norm_reference.py). The reference files come from
# scripts/norm_reference.py (run once with Debian's python3-torch); tests/norm_ref/*/cases.txt
# lists each case's nndist flags.
source "$(dirname "$0")/lib.sh"
set_dir=
eval_reads_norm() {
    local name=$1 np=$2
    [ "$np" -eq 1 ] || return 0
    run 1 eval --model "$WORK/$name-1.h5" --data "$set_dir/data.h5" < /dev/null \
        > "$WORK/$name-eval.log" 2>&1 || fail "$name: eval failed: $(cat "$WORK/$name-eval.log")"
    grep -q '^accuracy' "$WORK/$name-eval.log" || fail "$name: eval: $(cat "$WORK/$name-eval.log")"
}
total=0
for norm in layer batch; do
    set_dir=$SRC_DIR/tests/norm_ref/$norm
    echo "--norm $norm:"
    reference_cases "$set_dir" "$set_dir" 2e-6 eval_reads_norm
    [ "$ref_cases" -ge 2 ] || fail "$norm: only $ref_cases cases in cases.txt"
    [ "$ref_failed" -eq 0 ] ||
        fail "$norm: $ref_failed run(s) differ from PyTorch by more than 2e-6 relative"
    total=$((total + ref_cases))
done
# Batch norm in eval mode (the running statistics): eval of each reference file gives torch's
# loss of it (printed to 6 digits by both: 1e-5 relative).
for f in "$SRC_DIR"/tests/norm_ref/batch/*-*.h5; do
    want=$(run 1 info "$f" < /dev/null | awk '$1 == "eval_loss" { print $2 }')
    [ -n "$want" ] || fail "$f: no eval_loss attribute"
    for np in 1 2; do
        got=$(run $np eval --model "$f" --data "$SRC_DIR/tests/norm_ref/batch/data.h5" --json \
            < /dev/null | sed -n 's/.*"loss": \([0-9.]*\).*/\1/p')
        awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; d = d < 0 ? -d : d; exit !(d <= 1e-5 * b) }' ||
            fail "$(basename "$f") at $np ranks: eval's loss $got, torch's in eval mode $want"
    done
    echo "$(basename "$f" .h5) in eval mode: loss $got, torch's $want"
done
echo "1 passed, 0 failed ($total cases x 2 rank counts)"
