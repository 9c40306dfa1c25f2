# Every optimizer against PyTorch: 100 full-batch steps from the same initial weights end within
# 1e-5 relative (max |a - b| / max |a|) of torch.optim in float64, at 1 and 2 ranks. The
# reference files come from scripts/optim_reference.py (run once with Debian's python3-torch);
# tests/optim_ref/cases.txt lists each case's nndist flags.
source "$(dirname "$0")/lib.sh"
reference_cases "$SRC_DIR/tests/optim_ref" "$SRC_DIR/tests/optim_ref" 1e-5
[ "$ref_cases" -ge 30 ] || fail "only $ref_cases cases in cases.txt"
[ "$ref_failed" -eq 0 ] || fail "$ref_failed run(s) differ from PyTorch by more than 1e-5 relative"
echo "1 passed, 0 failed ($ref_cases cases x 2 rank counts)"
