# nndist bench-comm measures the allreduce at 1 and 2 ranks, fits the ring model, and times the
# sharded update's reduce-scatter + allgather beside it.
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
PYEOF
echo "1 passed, 0 failed"
