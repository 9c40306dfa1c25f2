# Class weights and label smoothing against PyTorch: 50 full-batch SGD (and momentum) steps from
# the optimizer references' initial weights end within 1e-5 relative (max |a - b| / max |a|) of
# torch.nn.functional.cross_entropy(weight=, label_smoothing=) in float64, at 1 and 2 ranks (2
# ranks: each holds 32 samples, so the weights' sum crosses the ranks); and eval's loss of the
# final model, read with the model's own class weights and smoothing, is torch's mean loss to
# 1e-5 relative. The references come from scripts/loss_reference.py (Debian's python3-torch).
source "$(dirname "$0")/lib.sh"
# eval's loss of the trained model, with the model's own weights and smoothing, against torch's.
eval_loss_is_torchs() {
    local name=$1 np=$2 torch_loss=$3 ours
    ours=$(run "$np" eval --model "$WORK/$name-$np.h5" --data "$SRC_DIR/tests/optim_ref/data.h5" \
        --json < /dev/null | sed -n 's/.*"loss": \([0-9.e+-]*\).*/\1/p')
    [ -n "$ours" ] || fail "$name at $np rank(s): eval printed no loss"
    if ! awk -v a="$ours" -v b="$torch_loss" 'BEGIN { d = a - b; if (d < 0) d = -d;
                                                    exit !(d <= 1e-5 * b) }'; then
        echo "FAIL $name np=$np: eval's loss $ours, torch's $torch_loss"
        ref_failed=$((ref_failed + 1))
    fi
    printf '%-28s np=%d  eval loss %s, torch %s\n' "$name" "$np" "$ours" "$torch_loss"
}
reference_cases "$SRC_DIR/tests/loss_ref" "$SRC_DIR/tests/optim_ref" 1e-5 eval_loss_is_torchs
[ "$ref_cases" -ge 4 ] || fail "only $ref_cases cases in cases.txt"
[ "$ref_failed" -eq 0 ] || fail "$ref_failed comparison(s) differ from PyTorch by more than 1e-5 relative"
echo "1 passed, 0 failed ($ref_cases cases x 2 rank counts)"
