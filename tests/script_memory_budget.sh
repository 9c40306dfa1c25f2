# The memory budget at start: a model larger than any machine is refused in under 5 s, on every
# rank, with both figures; a SLURM memory limit is honoured the same way; a run above 90% of its
# limit is warned about and runs; `nndist info --layers ...` prints the budget train checks.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 600 40 5 3

# expect_refusal NAME ARGS...: exit 2 within 5 s, one "not enough memory" line with both figures.
expect_refusal() {
    local name=$1 code start=$SECONDS
    shift
    set +e
    run 2 train --data "$WORK/train.h5" --batch 30 --steps 5 --no-progress "$@" \
        > "$WORK/$name.out" 2> "$WORK/$name.err"
    code=$?
    set -e
    [ $code -eq 2 ] || fail "$name: exit $code, expected 2: $(cat "$WORK/$name.err")"
    [ $((SECONDS - start)) -lt 5 ] || fail "$name: the refusal took $((SECONDS - start)) s"
    [ "$(grep -c '^nndist: error: not enough memory' "$WORK/$name.err")" -eq 1 ] ||
        fail "$name: expected one refusal line: $(cat "$WORK/$name.err")"
    grep -Eq "needs [0-9.]+ GB on this node \(2 ranks\) and the node allows [0-9.]+ GB" \
        "$WORK/$name.err" || fail "$name: figures missing: $(cat "$WORK/$name.err")"
}

# 1e10 parameters: 40 GB of weights and as much of gradients, more than any test machine has.
expect_refusal huge --layers 40,100000,100000,5
grep -q "the largest part is the" "$WORK/huge.err" || fail "huge: no largest part named"

# 16 M parameters with adam: 65 MB of weights per rank, 260 MB per rank in all, against 200 MB.
SLURM_MEM_PER_NODE=200 expect_refusal slurm --layers 40,4000,4000,5 --optimizer adam
grep -q "(SLURM_MEM_PER_NODE)" "$WORK/slurm.err" || fail "slurm: the limit's source is not named"

# A limit 5% above what info says the run needs: a warning, and the run goes on. (info counts
# the checkpoint file rank 0 builds in memory, which a run with --save builds.)
need_mb=$(run 1 info --layers 40,2000,2000,5 --optimizer adam --batch 30 --data "$WORK/train.h5" \
    --ranks 2 | awk '/total per node/ {print $4 / ($5 == "GB" ? 0.001 : 1)}')
[ -n "$need_mb" ] || fail "info printed no total per node"
limit_mib=$(awk -v mb="$need_mb" 'BEGIN {printf "%d", mb * 1e6 / 0.95 / 1048576 + 1}')
SLURM_MEM_PER_NODE=$limit_mib run 2 train --data "$WORK/train.h5" --layers 40,2000,2000,5 \
    --optimizer adam --batch 30 --steps 3 --no-progress --save "$WORK/warn.h5" \
    > "$WORK/warn.out" 2> "$WORK/warn.err" ||
    fail "the run above 90% failed: $(cat "$WORK/warn.err")"
grep -q "warning: memory: the run needs .* (SLURM_MEM_PER_NODE; 9[0-9]%)" "$WORK/warn.err" ||
    fail "no 90% warning: $(cat "$WORK/warn.err")"

# info and train agree on the figure: both print the same summary for the same limit.
SLURM_MEM_PER_NODE=$limit_mib run 1 info --layers 40,2000,2000,5 --optimizer adam --batch 30 \
    --data "$WORK/train.h5" --ranks 2 > "$WORK/info.out"
summary=$(sed -n 's/^.*the run \(needs [^)]*)\).*$/\1/p' "$WORK/info.out")
[ -n "$summary" ] || fail "info printed no summary: $(cat "$WORK/info.out")"
grep -qF "$summary" "$WORK/warn.err" ||
    fail "info ($summary) and train ($(cat "$WORK/warn.err")) disagree"
echo "1 passed, 0 failed"
