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
# The trained file carries its activation: eval uses it without being told.
eval_reads_activation() {
    local name=$1 np=$2
    [ "$np" -eq 1 ] || return 0
    run 1 eval --model "$WORK/$name-1.h5" --data "$SRC_DIR/tests/act_ref/data.h5" < /dev/null \
        > "$WORK/$name-eval.log" 2>&1 || fail "$name: eval failed: $(cat "$WORK/$name-eval.log")"
    grep -q "note:" "$WORK/$name-eval.log" && fail "$name: eval: $(cat "$WORK/$name-eval.log")"
    grep -q '^accuracy' "$WORK/$name-eval.log" || fail "$name: eval: $(cat "$WORK/$name-eval.log")"
}
reference_cases "$SRC_DIR/tests/act_ref" "$SRC_DIR/tests/act_ref" 2e-6 eval_reads_activation
[ "$ref_cases" -ge 7 ] || fail "only $ref_cases cases in cases.txt"
[ "$ref_failed" -eq 0 ] || fail "$ref_failed run(s) differ from PyTorch by more than 2e-6 relative"
echo "1 passed, 0 failed ($ref_cases cases x 2 rank counts)"
