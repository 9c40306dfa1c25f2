#!/usr/bin/env bash
# Every activation beyond relu, tanh and sigmoid against PyTorch: 20 full-batch SGD steps from
# the same initial weights end within 2e-6 relative (max |a - b| / max |a|) of torch.nn's GELU
# (both), LeakyReLU, SiLU and ELU trained in float64, at 1 and 2 ranks; eval reads the activation
# and its parameter from the trained file. Measured at most 1.9e-7 (both GEMM families): the
# size of float32's rounding of the weights, which alone moves torch's result by up to 1.4e-7
# (scripts/activation_reference.py's probe); the tolerance stays 10x above it. The reference files come from
# scripts/activation_reference.py (run once with Debian's python3-torch); tests/act_ref/cases.txt
# lists each case's nndist flags. (test_act_reference checks the first step's forward and
# backward of the same cases against torch directly.)
source "$(dirname "$0")/lib.sh"
REF="$SRC_DIR/tests/act_ref"
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
        if out=$("$COMPARE_MODELS" "$REF/$name.h5" "$WORK/$name-$np.h5" 2e-6); then
            printf '%-16s np=%d  %s\n' "$name" "$np" "${out#compare: }"
        else
            printf 'FAIL %-11s np=%d  %s\n' "$name" "$np" "${out#compare: }"
            failed=$((failed + 1))
        fi
    done
    # The trained file carries its activation: eval and predict use it without being told.
    run 1 eval --model "$WORK/$name-1.h5" --data "$REF/data.h5" < /dev/null > "$WORK/$name-eval.log" 2>&1 ||
        fail "$name: eval failed: $(cat "$WORK/$name-eval.log")"
    grep -q "note:" "$WORK/$name-eval.log" && fail "$name: eval: $(cat "$WORK/$name-eval.log")"
    grep -q '^accuracy' "$WORK/$name-eval.log" || fail "$name: eval: $(cat "$WORK/$name-eval.log")"
done < "$REF/cases.txt"
[ "$cases" -ge 7 ] || fail "only $cases cases in cases.txt"
[ "$failed" -eq 0 ] || fail "$failed run(s) differ from PyTorch by more than 2e-6 relative"
echo "1 passed, 0 failed ($cases cases x 2 rank counts)"
