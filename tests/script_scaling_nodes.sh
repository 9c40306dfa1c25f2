# scripts/scaling.sh on 2 emulated nodes (--fake-nodes 2: scripts/mpirun-fake-nodes, each node
# its own hostname and Open MPI daemon, TCP between them) at 2 and 4 ranks, both modes, a tiny
# model with a checkpoint every 10 steps: scaling.csv has a row per run, each on 2 nodes with the
# update sharded by reduce-scatter, a positive peak memory and a checkpoint time; --report-only
# rebuilds the same CSV; a rank count that 2 nodes do not divide is refused.
# Needs root for the emulated nodes (unshare --uts): skipped (77) elsewhere.
# shellcheck shell=bash source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root: the emulated nodes are UTS namespaces (unshare --uts)"
    exit 77
fi
if ! command -v unshare > /dev/null || ! unshare --uts true 2> /dev/null; then
    echo "SKIP: 'unshare --uts' is unavailable: each emulated node needs a UTS namespace"
    exit 77
fi
SCALING=$SRC_DIR/scripts/scaling.sh

# 4096 samples at a global batch of 128 (strong) and 64 x ranks (weak): 16 to 64 steps per epoch.
"$MAKE_DATASET" "$WORK/train.h5" 4096 32 4 3
out=$WORK/scaling
common=(--nndist "$NNDIST" --data "$WORK/train.h5" --layers "32,32,4" --ranks "2,4" --threads 1
        --batch 128 --batch-per-rank 64 --epochs 3 --checkpoint-every 10)
timeout -k 5 200 bash "$SCALING" "${common[@]}" --fake-nodes 2 --out "$out" \
    -- --optimizer adam > "$WORK/scaling.log" 2>&1 || fail "scaling.sh failed: $(cat "$WORK/scaling.log")"

csv=$out/scaling.csv
[ -f "$csv" ] || fail "no scaling.csv: $(cat "$WORK/scaling.log")"
# col NAME: the column's number in the header.
col() { head -n 1 "$csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
for c in mode ranks nodes update_path checkpoints ckpt_ms io_ms peak_mem_mb; do
    [ -n "$(col "$c")" ] || fail "scaling.csv has no column $c: $(head -n 1 "$csv")"
done
rows=$(awk -F, -v m="$(col mode)" -v r="$(col ranks)" 'NR > 1 { print $m "-" $r }' "$csv" | sort | paste -sd' ')
[ "$rows" = "strong-2 strong-4 weak-2 weak-4" ] || fail "expected the rows strong/weak x 2/4 ranks, got '$rows': $(cat "$csv")"
awk -F, -v n="$(col nodes)" -v u="$(col update_path)" -v k="$(col ckpt_ms)" -v c="$(col checkpoints)" \
    -v io="$(col io_ms)" -v mem="$(col peak_mem_mb)" -v m="$(col mode)" -v r="$(col ranks)" '
    NR == 1 { next }
    { run = $m " at " $r " ranks" }
    $n != 2 { print run ": nodes " $n ", not 2"; bad = 1 }
    $u != "sharded (reduce-scatter)" { print run ": update path \"" $u "\", not sharded (reduce-scatter)"; bad = 1 }
    !($mem ~ /^[0-9]+(\.[0-9]+)?$/ && $mem > 0) { print run ": peak memory \"" $mem "\" is not a positive number"; bad = 1 }
    !($c > 0 && $k ~ /^[0-9]+(\.[0-9]+)?$/ && $k > 0 && $io > 0) {
        print run ": no checkpoint time (checkpoints " $c ", ckpt_ms \"" $k "\", io_ms " $io ")"; bad = 1 }
    END { exit bad }' "$csv" > "$WORK/bad.txt" || fail "$(cat "$WORK/bad.txt")
$(cat "$csv")"
grep -Eq '^\| 4\*? \| 2 \| 1 \| sharded \(reduce-scatter\) \|' "$out/scaling.md" ||
    fail "scaling.md lacks the 4-rank row on 2 nodes: $(cat "$out/scaling.md")"
if command -v gnuplot > /dev/null; then
    for png in throughput efficiency breakdown memory; do
        [ -s "$out/$png.png" ] || fail "no $png.png: $(cat "$WORK/scaling.log")"
    done
fi

# --report-only rebuilds the same CSV from runs.tsv, the metrics and the logs.
cp "$csv" "$WORK/first.csv"
bash "$SCALING" --report-only --out "$out" > "$WORK/report.log" 2>&1 ||
    fail "--report-only failed: $(cat "$WORK/report.log")"
cmp -s "$csv" "$WORK/first.csv" || fail "--report-only wrote another CSV: $(diff "$WORK/first.csv" "$csv")"

# 3 ranks do not divide over 2 nodes: refused before anything runs.
if bash "$SCALING" "${common[@]}" --ranks "2,3" --fake-nodes 2 --out "$WORK/refused" > "$WORK/refused.log" 2>&1; then
    fail "--fake-nodes 2 accepted 3 ranks"
fi
grep -q "a rank count of 3 cannot be split evenly over 2 nodes" "$WORK/refused.log" ||
    fail "no clear refusal of 3 ranks on 2 nodes: $(cat "$WORK/refused.log")"
[ ! -e "$WORK/refused/runs/strong-p2-t1.csv" ] || fail "runs started before 3 ranks were refused"
echo "scaling.sh on 2 emulated nodes: $(($(wc -l < "$csv") - 1)) runs reported"
