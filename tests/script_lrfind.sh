# nndist lr-find: the learning-rate range test. The curve in the CSV is checked against its
# definition (geometric lr, bias-corrected moving average), the suggestions are recomputed from
# it, the test stops when the loss explodes or stops being finite, the PNG is drawn by gnuplot
# (or the CSV is still written without it), 1 and 2 ranks trace the same curve, bad flags fail.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/mse.h5" 2000 20 5 3 targets
base=(lr-find --data "$WORK/mse.h5" --loss mse --layers 20,32,5 --optimizer sgd --batch 64)

run 2 "${base[@]}" --lr-max 100 --steps 100 --out-csv "$WORK/a.csv" > "$WORK/a.log" 2>&1 ||
    fail "lr-find failed: $(cat "$WORK/a.log")"
head -n 1 "$WORK/a.csv" | grep -qx 'step,lr,loss,smoothed' || fail "bad CSV header"
rows=$(($(wc -l < "$WORK/a.csv") - 1))
[ "$rows" -ge 20 ] && [ "$rows" -lt 100 ] || fail "expected the loss to explode before 100 steps; $rows rows"
grep -q "stopped at lr .*: the smoothed loss .* exceeded 4 x the best" "$WORK/a.log" ||
    fail "no explosion reported: $(head -n 3 "$WORK/a.log")"
grep -q "lr-find: $rows of 100 steps from 1e-07 to 100 (sgd, global batch 64, 2 ranks)" \
    "$WORK/a.log" || fail "bad summary line: $(head -n 1 "$WORK/a.log")"

# The curve against its definition, and the suggestions recomputed from it.
steep=$(sed -n 's/^suggested lr: \([^ ]*\) .*/\1/p' "$WORK/a.log")
tenth=$(sed -n 's/^ *or: \([^ ]*\) .*/\1/p' "$WORK/a.log")
[ -n "$steep" ] && [ -n "$tenth" ] || fail "no suggestion printed: $(cat "$WORK/a.log")"
awk -F, -v steps=100 -v lrmax=100 -v steep="$steep" -v tenth="$tenth" '
    function rel(a, b) { return (a > b ? a - b : b - a) / (b < 0 ? -b : b) }
    NR == 1 { next }
    {
        i = NR - 1; lr[i] = $2; sm[i] = $4
        want = 1e-7 * exp(log(lrmax / 1e-7) * (i - 1) / (steps - 1))
        if (rel($2, want) > 1e-6) { print "row " i ": lr " $2 ", expected " want; bad = 1 }
        avg = 0.98 * avg + 0.02 * $3
        s = avg / (1 - 0.98 ^ i)
        if (rel($4, s) > 1e-6) { print "row " i ": smoothed " $4 ", expected " s; bad = 1 }
        if (i == 1 || $4 < best) { best = $4; imin = i }
    }
    END {
        n = NR - 1
        # the last row is the one that exceeded 4 x the best
        if (!(sm[n] > 4 * best)) { print "last smoothed " sm[n] " is not above 4 x " best; bad = 1 }
        # rows are 1-based here: the C code skips the first steps / 20 (0-based) points
        lo = int(steps / 20) + 1; if (lo < 2) lo = 2
        hi = imin; if (hi > n - 1) hi = n - 1
        found = 0
        for (i = lo; i <= hi; i++) {
            slope = (sm[i + 1] - sm[i - 1]) / (log(lr[i + 1]) - log(lr[i - 1]))
            if (!found || slope < bestslope) { bestslope = slope; at = i; found = 1 }
        }
        if (!found || bestslope >= 0) { print "no descent in the curve"; bad = 1 }
        else if (rel(steep, lr[at]) > 0.01) { print "steepest at " lr[at] ", printed " steep; bad = 1 }
        if (rel(tenth, lr[imin] / 10) > 0.01) { print "min/10 " lr[imin] / 10 ", printed " tenth; bad = 1 }
        exit bad
    }' "$WORK/a.csv" || fail "the CSV or the suggestions do not match their definitions"

# The PNG (when gnuplot is there) and the terminal plot.
if command -v gnuplot > /dev/null; then
    [ "$(head -c 4 "$WORK/a.png" | od -An -c | tr -d ' ')" = "211PNG" ] ||
        fail "no PNG written to $WORK/a.png"
    grep -q "wrote .*a.csv and .*a.png" "$WORK/a.log" || fail "the PNG is not reported"
fi
grep -q "S steepest descent, M minimum" "$WORK/a.log" || fail "no terminal plot"
[ "$(grep -c '^ *[0-9.e+-]* |' "$WORK/a.log")" -ge 3 ] || fail "terminal plot without an axis"
grep -q '^ *[0-9.e+-]* |.*S' "$WORK/a.log" || fail "the plot does not mark the suggestion"

# Without gnuplot: the CSV is written and the run says why there is no PNG.
NNDIST_GNUPLOT=/nonexistent/gnuplot run 2 "${base[@]}" --lr-max 100 --steps 30 \
    --out-csv "$WORK/b.csv" --out-png "$WORK/b.png" > "$WORK/b.log" 2>&1 ||
    fail "lr-find without gnuplot failed: $(cat "$WORK/b.log")"
[ -s "$WORK/b.csv" ] && [ ! -e "$WORK/b.png" ] || fail "without gnuplot: CSV missing or PNG present"
grep -q "no PNG: gnuplot is not installed" "$WORK/b.log" || fail "missing gnuplot not reported"

# The same curve on 1 rank (a data-parallel run is the same run): the first 60 losses agree.
run 1 "${base[@]}" --lr-max 100 --steps 100 --out-csv "$WORK/c.csv" > /dev/null 2>&1 ||
    fail "1-rank lr-find failed"
paste -d, "$WORK/a.csv" "$WORK/c.csv" | awk -F, 'NR > 1 && NR <= 61 {
    d = $3 - $7; if (d < 0) d = -d
    if (d > 1e-5 * $3) { print "row " NR - 1 ": loss " $3 " at 2 ranks, " $7 " at 1"; bad = 1 } }
    END { exit bad }' || fail "1 and 2 ranks trace different curves"

# A loss that overflows ends the test as well (the explosion check switched off).
run 2 "${base[@]}" --lr-max 1e8 --steps 100 --diverge 1e300 --out-csv "$WORK/d.csv" \
    > "$WORK/d.log" 2>&1 || fail "lr-find with a non-finite loss failed: $(cat "$WORK/d.log")"
grep -q "the loss is no longer finite" "$WORK/d.log" || fail "non-finite loss not reported"
awk -F, 'NR > 1 && tolower($0) ~ /nan|inf/ { bad = 1 } END { exit bad }' "$WORK/d.csv" ||
    fail "non-finite values in the CSV"

# Bad flags: one message, exit 2, no CSV.
expect_usage() {
    local want=$1; shift
    set +e
    run 2 "${base[@]}" --out-csv "$WORK/bad.csv" "$@" > "$WORK/bad.out" 2> "$WORK/bad.err"
    local rc=$?
    set -e
    [ $rc -eq 2 ] || fail "lr-find $*: exit $rc, expected 2"
    grep -q -- "$want" "$WORK/bad.err" || fail "lr-find $*: message lacks '$want': $(cat "$WORK/bad.err")"
    [ ! -e "$WORK/bad.csv" ] || fail "lr-find $*: wrote a CSV"
}
expect_usage "--lr does not apply to lr-find" --lr 0.1
expect_usage "--lr-max 1e-08 must be larger than --lr-min" --lr-max 1e-8
expect_usage "--steps: 3 is too few" --steps 3
expect_usage "--momentum does not apply to --optimizer adam" --optimizer adam --momentum 0.9
echo "1 passed, 0 failed"
