# nndist plot: a run's learning curves from its metrics file. A 3-epoch run with --val, plotted at
# 1 and 2 ranks, then with a step file found beside it and one named by --steps; the run with
# --log-every written as JSON lines (its step file found beside it) and as CSV, drawing the same
# picture; a hand-written regression file (train_r2, val_r2, a column no reader knows); each PNG
# checked (the magic bytes, its dimensions, a sane size). Refusals, CSV and JSON lines: exit 2
# with a message naming the file and line, an existing PNG left as it was. gnuplot failing or
# missing: exit 1, the old PNG kept, no temporary left. Skipped (77) without gnuplot, after the
# check that needs none.
source "$(dirname "$0")/lib.sh"

"$MAKE_DATASET" "$WORK/train.h5" 300 12 4 1
"$MAKE_DATASET" "$WORK/val.h5" 100 12 4 1
run 2 train --data "$WORK/train.h5" --val "$WORK/val.h5" --layers 12,16,4 --batch 30 --lr 0.1 \
    --epochs 3 --metrics "$WORK/m.csv" --no-progress > "$WORK/train.log" ||
    fail "training failed: $(cat "$WORK/train.log")"
[ "$(($(wc -l < "$WORK/m.csv") - 1))" -eq 3 ] || fail "expected 3 metrics rows: $(cat "$WORK/m.csv")"

# without_png RC MESSAGE ARGS...: nndist ARGS exits RC, says MESSAGE, and keeps.png stays as it
# was (when there is one), with no temporary beside it.
without_png() {
    local want_rc=$1 want=$2 code
    shift 2
    if [ -f "$WORK/keep.png" ]; then cp "$WORK/keep.png" "$WORK/keep.orig"; fi
    set +e
    run 1 "$@" > "$WORK/out.log" 2> "$WORK/err.log"
    code=$?
    set -e
    [ "$code" -eq "$want_rc" ] || fail "$*: exit $code, expected $want_rc: $(cat "$WORK/err.log")"
    grep -q "^nndist: error: " "$WORK/err.log" && grep -qF -- "$want" "$WORK/err.log" ||
        fail "$*: the message '$(grep nndist: "$WORK/err.log")' lacks '$want'"
    if [ -f "$WORK/keep.orig" ]; then
        cmp -s "$WORK/keep.png" "$WORK/keep.orig" || fail "$*: the existing PNG was changed"
    fi
    if compgen -G "$WORK/*.tmp" > /dev/null; then fail "$*: left $(ls "$WORK"/*.tmp)"; fi
}

# Without gnuplot: the plot module's message, exit 1, nothing written.
NNDIST_GNUPLOT=/nonexistent/gnuplot without_png 1 "gnuplot is not installed" \
    plot "$WORK/m.csv" --out "$WORK/none.png"
[ ! -e "$WORK/none.png" ] || fail "a PNG was written without gnuplot"

command -v "${NNDIST_GNUPLOT:-gnuplot}" > /dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }

# png_ok FILE WIDTH HEIGHT: a PNG (its signature) of that size in pixels, of a sane byte size.
png_ok() {
    local f=$1 size dims
    [ -f "$f" ] || fail "$f was not written"
    [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$f: not a PNG"
    size=$(stat -c %s "$f")
    [ "$size" -gt 3000 ] && [ "$size" -lt 2000000 ] || fail "$f: $size bytes"
    # IHDR: the width and height, big-endian, at bytes 16 and 20.
    dims=$(od -An -tu1 -j16 -N8 "$f" | awk '{ print $3 * 256 + $4 "x" $7 * 256 + $8 }')
    [ "$dims" = "$2x$3" ] || fail "$f: $dims pixels, expected $2x$3"
}

# The training run: loss and accuracy, train and validation; the same picture at 2 ranks.
run 1 plot "$WORK/m.csv" --out "$WORK/cls.png" > "$WORK/plot.log" || fail "plot: $(cat "$WORK/plot.log")"
grep -qx "wrote $WORK/cls.png: 3 epoch rows, loss and accuracy (train and validation)" \
    "$WORK/plot.log" || fail "plot said: $(cat "$WORK/plot.log")"
png_ok "$WORK/cls.png" 1280 560
run 2 plot --out "$WORK/cls2.png" "$WORK/m.csv" > /dev/null || fail "plot at 2 ranks failed"
cmp -s "$WORK/cls.png" "$WORK/cls2.png" || fail "2 ranks drew another picture"

# A step file beside m.csv (train's m.steps.csv, 10 steps an epoch, written by hand here) is
# used without being named; --steps names another; --title replaces the file name.
awk 'BEGIN { print "step,epoch,lr,train_loss,train_acc,samples_per_s"
             for (s = 1; s <= 30; s++) printf "%d,%g,0.1,%.6f,%.4f,50000\n", s, s / 10, 1.4 * exp(-s / 20) + 0.05 * sin(s), s / 40 }' \
    > "$WORK/m.steps.csv"
run 1 plot "$WORK/m.csv" --out "$WORK/steps.png" > "$WORK/plot.log" || fail "plot with steps failed"
grep -q ", 30 steps from $WORK/m.steps.csv$" "$WORK/plot.log" || fail "steps not used: $(cat "$WORK/plot.log")"
png_ok "$WORK/steps.png" 1280 560
cmp -s "$WORK/cls.png" "$WORK/steps.png" && fail "the step file did not change the picture"
head -n 11 "$WORK/m.steps.csv" > "$WORK/other.csv"
run 1 plot "$WORK/m.csv" --out "$WORK/other.png" --steps "$WORK/other.csv" --title "it's run 7" \
    > "$WORK/plot.log" || fail "plot --steps failed"
grep -q ", 10 steps from $WORK/other.csv$" "$WORK/plot.log" || fail "--steps: $(cat "$WORK/plot.log")"
png_ok "$WORK/other.png" 1280 560
rm "$WORK/m.steps.csv"
# Another extension: train's step file of run.txt is run.steps.txt.
cp "$WORK/m.csv" "$WORK/run.txt"
cp "$WORK/other.csv" "$WORK/run.steps.txt"
run 1 plot "$WORK/run.txt" --out "$WORK/txt.png" > "$WORK/plot.log" || fail "plot run.txt failed"
grep -q ", 10 steps from $WORK/run.steps.txt$" "$WORK/plot.log" || fail "run.txt: $(cat "$WORK/plot.log")"

# JSON lines: the run again with --log-every 2, its metrics in j.jsonl and its step file
# j.steps.jsonl found beside it; and the identical run written as CSV draws the same picture
# (the same size, and with one title the same bytes: the values are read alike).
jrun=(train --data "$WORK/train.h5" --val "$WORK/val.h5" --layers 12,16,4 --batch 30 --lr 0.1
      --epochs 3 --log-every 2 --no-progress)
run 2 "${jrun[@]}" --metrics "$WORK/j.jsonl" > "$WORK/train.log" || fail "training to j.jsonl: $(cat "$WORK/train.log")"
run 2 "${jrun[@]}" --metrics "$WORK/j.csv" > "$WORK/train.log" || fail "training to j.csv: $(cat "$WORK/train.log")"
[ "$(wc -l < "$WORK/j.jsonl")" -eq 3 ] && [ "$(wc -l < "$WORK/j.steps.jsonl")" -eq 15 ] ||
    fail "expected 3 epoch and 15 step objects: $(cat "$WORK/j.jsonl")"
run 1 plot "$WORK/j.jsonl" --out "$WORK/j.png" > "$WORK/plot.log" || fail "plot j.jsonl: $(cat "$WORK/plot.log")"
grep -qx "wrote $WORK/j.png: 3 epoch rows, loss and accuracy (train and validation), 15 steps from $WORK/j.steps.jsonl" \
    "$WORK/plot.log" || fail "plot j.jsonl said: $(cat "$WORK/plot.log")"
png_ok "$WORK/j.png" 1280 560
run 1 plot "$WORK/j.csv" --out "$WORK/jcsv.png" > "$WORK/plot.log" || fail "plot j.csv: $(cat "$WORK/plot.log")"
grep -q ", 15 steps from $WORK/j.steps.csv$" "$WORK/plot.log" || fail "plot j.csv said: $(cat "$WORK/plot.log")"
png_ok "$WORK/jcsv.png" 1280 560
run 1 plot "$WORK/j.jsonl" --out "$WORK/same1.png" --title run > /dev/null || fail "plot j.jsonl --title failed"
run 1 plot "$WORK/j.csv" --out "$WORK/same2.png" --title run > /dev/null || fail "plot j.csv --title failed"
cmp -s "$WORK/same1.png" "$WORK/same2.png" || fail "the CSV and JSON lines of one run drew different pictures"
# A JSON-lines step file named by --steps beside a CSV: each file's kind goes by its own name.
run 1 plot "$WORK/m.csv" --out "$WORK/mixed.png" --steps "$WORK/j.steps.jsonl" > "$WORK/plot.log" ||
    fail "plot m.csv --steps j.steps.jsonl: $(cat "$WORK/plot.log")"
grep -q ", 15 steps from $WORK/j.steps.jsonl$" "$WORK/plot.log" || fail "--steps jsonl: $(cat "$WORK/plot.log")"

# A regression run, written by hand: R^2 columns, no step file, a text column nobody reads, an
# R^2 far below -1 at first, columns in another order.
{
    echo "epoch,step,train_loss,val_loss,lr,train_r2,val_r2,samples,note"
    echo "1,10,15.3,17.7,0.01,-8.57,-10.07,600,warm-up"
    for e in 2 3 4 5 6 7 8; do
        awk -v e="$e" 'BEGIN { l = 20 * exp(-0.5 * e) + 0.5; printf "%d,%d,%.4f,%.4f,0.01,%.4f,%.4f,600,\n", e, 10 * e, l, l * 1.2, 1 - l / 1.6, 1 - 1.2 * l / 1.6 }'
    done
} > "$WORK/reg.csv"
run 1 plot "$WORK/reg.csv" --out "$WORK/reg.png" > "$WORK/plot.log" || fail "regression plot: $(cat "$WORK/plot.log")"
grep -qx "wrote $WORK/reg.png: 8 epoch rows, loss and R² (train and validation)" "$WORK/plot.log" ||
    fail "regression plot said: $(cat "$WORK/plot.log")"
png_ok "$WORK/reg.png" 1280 560
# Without a metric column: the loss alone, one panel.
cut -d, -f1,3 "$WORK/reg.csv" > "$WORK/loss_only.csv"
run 1 plot "$WORK/loss_only.csv" --out "$WORK/loss_only.png" > "$WORK/plot.log" || fail "loss-only plot failed"
grep -qx "wrote $WORK/loss_only.png: 8 epoch rows, loss (train)" "$WORK/plot.log" ||
    fail "loss-only plot said: $(cat "$WORK/plot.log")"
png_ok "$WORK/loss_only.png" 720 560

# Refusals: exit 2, the file, the line and what was expected; the PNG at --out untouched.
cp "$WORK/cls.png" "$WORK/keep.png"
cp "$WORK/m.csv" "$WORK/m.orig"
hdr=$(head -n 1 "$WORK/m.csv")
row=$(sed -n 2p "$WORK/m.csv")
: > "$WORK/empty.csv"
echo "$hdr" > "$WORK/hdr.csv"
tail -n +2 "$WORK/m.csv" > "$WORK/nohdr.csv"
sed 's/epoch/epochs/' "$WORK/m.csv" > "$WORK/noepoch.csv"
printf '%s\n%s\n1,2,3\n' "$hdr" "$row" > "$WORK/short.csv"
printf '%s\n%s\n' "$hdr" "$(echo "$row" | awk -F, -v OFS=, '{ $4 = "abc"; print }')" > "$WORK/text.csv"
printf '%s\n%s\n' "$hdr" "$(echo "$row" | awk -F, -v OFS=, '{ $6 = "nan"; print }')" > "$WORK/nan.csv"
printf '%s\n%s\n' "$hdr" "$(echo "$row" | awk -F, -v OFS=, '{ $2 = "inf"; print }')" > "$WORK/inf.csv"
jrow1=$(head -n 1 "$WORK/j.jsonl")
jrow2=$(sed -n 2p "$WORK/j.jsonl")
: > "$WORK/empty.jsonl"
printf '%s\n%s\n' "$jrow1" "${jrow2/\"train_loss\": /\"loss\": }" > "$WORK/jkey.jsonl"
printf '%s\n%s\n' "$jrow1" "${jrow2%%, \"val_loss\"*}" > "$WORK/jcut.jsonl"
printf '%s\n%s\n' "$jrow1" "${jrow2/\"epoch\": 2,/\"epoch\": \"2\",}" > "$WORK/jtext.jsonl"
o=(--out "$WORK/keep.png")
without_png 2 "$WORK/absent.csv: cannot open: No such file" plot "$WORK/absent.csv" "${o[@]}"
without_png 2 "$WORK/empty.csv: the file is empty; expected a metrics CSV" plot "$WORK/empty.csv" "${o[@]}"
without_png 2 "$WORK/hdr.csv: no rows to plot" plot "$WORK/hdr.csv" "${o[@]}"
without_png 2 "$WORK/nohdr.csv: line 1: no header" plot "$WORK/nohdr.csv" "${o[@]}"
without_png 2 "$WORK/noepoch.csv: line 1: the header has no 'epoch' column" plot "$WORK/noepoch.csv" "${o[@]}"
without_png 2 "$WORK/short.csv: line 3: 3 fields; expected 15" plot "$WORK/short.csv" "${o[@]}"
without_png 2 "$WORK/text.csv: line 2: train_loss is 'abc'; expected a finite number" \
    plot "$WORK/text.csv" "${o[@]}"
without_png 2 "$WORK/nan.csv: line 2: val_loss is 'nan'" plot "$WORK/nan.csv" "${o[@]}"
without_png 2 "$WORK/inf.csv: line 2: epoch is 'inf'" plot "$WORK/inf.csv" "${o[@]}"
without_png 2 "$WORK/empty.jsonl: the file is empty; expected JSON lines" plot "$WORK/empty.jsonl" "${o[@]}"
without_png 2 "$WORK/jkey.jsonl: line 2: the key 'loss' where 'train_loss' was expected" \
    plot "$WORK/jkey.jsonl" "${o[@]}"
without_png 2 "$WORK/jcut.jsonl: line 2: malformed JSON at byte" plot "$WORK/jcut.jsonl" "${o[@]}"
without_png 2 "$WORK/jtext.jsonl: line 2: epoch is '\"2\"'; expected a finite number" \
    plot "$WORK/jtext.jsonl" "${o[@]}"
cp "$WORK/j.steps.jsonl" "$WORK/j.steps.orig"
sed -i '3s/"step": 6, //' "$WORK/j.steps.jsonl"
without_png 2 "j.steps.jsonl: line 3: the key 'epoch' where 'step' was expected (every line has the keys of line 1, in its order) (the step file beside $WORK/j.jsonl; --steps names another)" \
    plot "$WORK/j.jsonl" "${o[@]}"
mv "$WORK/j.steps.orig" "$WORK/j.steps.jsonl"
without_png 2 "--steps $WORK/hdr.csv: no rows to plot" plot "$WORK/m.csv" "${o[@]}" --steps "$WORK/hdr.csv"
cp "$WORK/short.csv" "$WORK/m.steps.csv"
without_png 2 "m.steps.csv: line 3: 3 fields; expected 15, as many as the header has (a line cut short, or a stray comma?) (the step file beside $WORK/m.csv; --steps names another)" plot "$WORK/m.csv" "${o[@]}"
rm "$WORK/m.steps.csv"
without_png 2 "--out $WORK/no/such/dir.png: the directory $WORK/no/such does not exist" \
    plot "$WORK/m.csv" --out "$WORK/no/such/dir.png"
without_png 2 "--out $WORK/m.csv: is an input of the plot" plot "$WORK/m.csv" --out "$WORK/m.csv"
without_png 2 "plot needs a METRICS file and --out" plot "$WORK/m.csv"
without_png 2 "plot takes one METRICS file" plot "$WORK/m.csv" "$WORK/reg.csv" "${o[@]}"
cmp -s "$WORK/m.csv" "$WORK/m.orig" || fail "the metrics file was changed"

# gnuplot failing: exit 1 naming --out (not the temporary), the old PNG kept.
NNDIST_GNUPLOT=false without_png 1 "gnuplot failed to write $WORK/keep.png" plot "$WORK/m.csv" "${o[@]}"
echo "1 passed, 0 failed"
