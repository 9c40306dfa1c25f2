# Class weights and label smoothing against PyTorch: 50 full-batch SGD (and momentum) steps from
# the optimizer references' initial weights end within 1e-5 relative (max |a - b| / max |a|) of
# torch.nn.functional.cross_entropy(weight=, label_smoothing=) in float64, at 1 and 2 ranks (2
# ranks: each holds 32 samples, so the weights' sum crosses the ranks); and eval's loss of the
# final model, read with the model's own class weights and smoothing, is torch's mean loss to
# 1e-5 relative. The references come from scripts/loss_reference.py (Debian's python3-torch).
source "$(dirname "$0")/lib.sh"
REF="$SRC_DIR/tests/loss_ref"
DATA="$SRC_DIR/tests/optim_ref"
[ -f "$REF/cases.txt" ] || fail "$REF/cases.txt is missing"
common=$(awk -F'\t' '$1 == "common" { print $2 }' "$REF/cases.txt")
[ -n "$common" ] || fail "cases.txt has no common line"
cases=0 failed=0
while IFS=$'\t' read -r name flags torch_loss; do
    case "$name" in '#'* | common | '') continue ;; esac
    cases=$((cases + 1))
    for np in 1 2; do
        # shellcheck disable=SC2086 # the flags are words
        run $np train --data "$DATA/data.h5" --init "$DATA/init.h5" $common $flags --no-progress \
            --save "$WORK/$name-$np.h5" < /dev/null > "$WORK/$name-$np.log" 2>&1 ||
            fail "$name at $np rank(s): training failed: $(tail -n 3 "$WORK/$name-$np.log")"
        if out=$("$COMPARE_MODELS" "$REF/$name.h5" "$WORK/$name-$np.h5" 1e-5); then
            printf '%-28s np=%d  %s\n' "$name" "$np" "${out#compare: }"
        else
            printf 'FAIL %-23s np=%d  %s\n' "$name" "$np" "${out#compare: }"
            failed=$((failed + 1))
        fi
        ours=$(run $np eval --model "$WORK/$name-$np.h5" --data "$DATA/data.h5" --json < /dev/null |
            sed -n 's/.*"loss": \([0-9.e+-]*\).*/\1/p')
        [ -n "$ours" ] || fail "$name at $np rank(s): eval printed no loss"
        if ! awk -v a="$ours" -v b="$torch_loss" 'BEGIN { d = a - b; if (d < 0) d = -d;
                                                        exit !(d <= 1e-5 * b) }'; then
            echo "FAIL $name np=$np: eval's loss $ours, torch's $torch_loss"
            failed=$((failed + 1))
        fi
    done
    printf '%-28s eval loss %s, torch %s\n' "$name" "$ours" "$torch_loss"
done < "$REF/cases.txt"
[ "$cases" -ge 4 ] || fail "only $cases cases in cases.txt"
[ "$failed" -eq 0 ] || fail "$failed comparison(s) differ from PyTorch by more than 1e-5 relative"
echo "1 passed, 0 failed ($cases cases x 2 rank counts)"
