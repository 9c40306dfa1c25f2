# nndist bench-comm measures the allreduce at 1 and 2 ranks, fits the ring model, and times the
# sharded update's reduce-scatter + allgather beside it; on 2 emulated nodes x 2 ranks (root
# only) also the sum within each node first, whose result it checks.
source "$(dirname "$0")/lib.sh"
run 1 bench-comm --iters 5 > "$WORK/one.txt" || fail "bench-comm at 1 rank failed"
grep -q "one rank: nothing crosses a wire" "$WORK/one.txt" || fail "1 rank: $(cat "$WORK/one.txt")"
run 2 bench-comm --layers 50,40,10 --iters 20 --json > "$WORK/two.json" || fail "bench-comm failed"
python3 - "$WORK/two.json" <<'PYEOF' || fail "bench-comm --json: $(cat "$WORK/two.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ranks"] == 2 and d["floats"] == 50 * 40 + 40 + 40 * 10 + 10 + 8, d
assert 0 < d["latency_s"] < 1 and 0 < d["allreduce_s"] < 1, d
assert 0 < d["reduce_scatter_allgather_s"] < 1, d
assert d["alpha_s"] > 0 and d["beta_s_per_byte"] >= 0 and d["bus_bandwidth_Bps"] > 0, d
assert d["hierarchical_s"] == -1, d  # one node: nothing to sum within nodes first
PYEOF
set +e
"$SRC_DIR/scripts/mpirun-fake-nodes" 2 2 "$NNDIST" bench-comm --layers 50,40,10 --iters 5 \
    > "$WORK/nodes.txt" 2>&1
code=$?
set -e
if [ "$code" -eq 77 ]; then
    echo "SKIP the 2-node case: $(cat "$WORK/nodes.txt")"
else
    [ "$code" -eq 0 ] || fail "bench-comm on 2 emulated nodes: exit $code: $(cat "$WORK/nodes.txt")"
    grep -Eq "^the same within each node first, then across nodes: [0-9.]+ ms" "$WORK/nodes.txt" ||
        fail "2 nodes x 2 ranks: no hierarchical sum (or a wrong one): $(cat "$WORK/nodes.txt")"
fi
echo "1 passed, 0 failed"
