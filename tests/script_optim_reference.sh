# Every optimizer against PyTorch: 100 full-batch steps from the same initial weights end within
# 1e-5 relative (max |a - b| / max |a|) of torch.optim in float64, at 1 and 2 ranks. The
# reference files come from scripts/optim_reference.py (run once with Debian's python3-torch);
# tests/optim_ref/cases.txt lists each case's nndist flags.
source "$(dirname "$0")/lib.sh"
REF="$SRC_DIR/tests/optim_ref"
[ -f "$REF/cases.txt" ] || fail "$REF/cases.txt is missing"
common=$(awk -F'\t' '$1 == "common" { print $2 }' "$REF/cases.txt")
[ -n "$common" ] || fail "cases.txt has no common line"
cases=0 failed=0
while IFS=$'\t' read -r name flags; do
    case "$name" in '#'* | common | '') continue ;; esac
    cases=$((cases + 1))
    for np in 1 2; do
        # shellcheck disable=SC2086 # the flags are words
        run $np train --data "$REF/data.h5" --init "$REF/init.h5" $common $flags --no-progress \
            --save "$WORK/$name-$np.h5" < /dev/null > "$WORK/$name-$np.log" 2>&1 ||
            fail "$name at $np rank(s): training failed: $(tail -n 3 "$WORK/$name-$np.log")"
        if out=$("$COMPARE_MODELS" "$REF/$name.h5" "$WORK/$name-$np.h5" 1e-5); then
            printf '%-28s np=%d  %s\n' "$name" "$np" "${out#compare: }"
        else
            printf 'FAIL %-23s np=%d  %s\n' "$name" "$np" "${out#compare: }"
            failed=$((failed + 1))
        fi
    done
done < "$REF/cases.txt"
[ "$cases" -ge 30 ] || fail "only $cases cases in cases.txt"
[ "$failed" -eq 0 ] || fail "$failed run(s) differ from PyTorch by more than 1e-5 relative"
echo "1 passed, 0 failed ($cases cases x 2 rank counts)"
