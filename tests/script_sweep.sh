# nndist sweep: k-fold cross-validation of a grid of configurations across rank groups.
#  - a sweep at 1 rank and at 4 ranks in 2 groups of 2 give the same table: the printed table
#    identical (the seconds aside) and the CSV's means and stds within 1e-5 (relative to
#    max(|x|, 1)); the group size differs between them, so the allreduce sums in another order;
#  - the same group size gives bitwise the same CSVs whatever the number of groups (1 rank vs
#    2 groups of 1; 1 group of 2 vs 2 groups of 2);
#  - the best configuration's printed `train` command reproduces its fold-1 validation accuracy
#    and loss exactly (the metrics CSV against the sweep's folds.csv), at 1 and at 2 ranks;
#  - successive halving keeps the best third of each rung, and a rung's numbers are those of a
#    plain sweep with that rung's epochs;
#  - diverging configurations rank last; the heatmap is drawn (or the CSV written without
#    gnuplot); bad inputs give one message and exit 2 on every rank.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/syn.h5" 600 12 4 3
grid=(sweep --data "$WORK/syn.h5" --layers 12,16,4 --optimizers sgd,momentum,adam,adagrad
      --lrs 1e-3,1e-2,1e-1 --batch 32,64 --folds 3)

# sweep NP NAME ARGS...: runs a sweep (NP 0: a singleton without mpirun) into $WORK/NAME.
sweep() {
    local np=$1 name=$2; shift 2
    if [ "$np" -eq 0 ]; then
        timeout -k 5 120 "$NNDIST" "$@" --out "$WORK/$name" > "$WORK/$name.log" 2>&1
    else
        run "$np" "$@" --out "$WORK/$name" > "$WORK/$name.log" 2>&1
    fi || fail "sweep $name failed: $(tail -n 5 "$WORK/$name.log")"
}
sweep 0 g1 "${grid[@]}" --epochs 2
sweep 2 g1x2 "${grid[@]}" --epochs 2
sweep 2 g2x1 "${grid[@]}" --epochs 2 --group-size 2
sweep 4 g2x2 "${grid[@]}" --epochs 2 --group-size 2

for name in g1 g1x2 g2x1 g2x2; do
    log="$WORK/$name.log"
    [ "$(grep -c '^\[ *[0-9]*/24\] ' "$log")" -eq 24 ] || fail "$name: not 24 progress lines"
    grep -q 'best: [a-z]* lr ' "$log" || fail "$name: no running best"
    [ "$(grep -cE '^ +[0-9]+  [a-z]+ ' "$log")" -eq 24 ] || fail "$name: the table lacks rows"
    [ "$(wc -l < "$WORK/$name/sweep.csv")" -eq 25 ] || fail "$name: sweep.csv is not 24 rows"
    [ "$(wc -l < "$WORK/$name/folds.csv")" -eq 73 ] || fail "$name: folds.csv is not 72 rows"
    grep -q '^reproduce its fold 1' "$log" || fail "$name: no reproduction command"
done
grep -q "2 groups of 2 ranks" "$WORK/g2x2.log" || fail "g2x2: groups not reported"

# Bitwise with the same group size (the seconds column aside).
same() { cmp -s <(cut -d, -f1-12 "$WORK/$1/sweep.csv") <(cut -d, -f1-12 "$WORK/$2/sweep.csv") &&
         cmp -s "$WORK/$1/folds.csv" "$WORK/$2/folds.csv"; }
same g1 g1x2 || fail "group size 1: 1 group and 2 groups differ"
same g2x1 g2x2 || fail "group size 2: 1 group and 2 groups differ"

# Group size 1 vs 2: the printed tables agree (the seconds aside), the CSVs within 1e-5.
table() { grep -E '^ +[0-9]+  [a-z]+ ' "$1" | awk '{ $NF = ""; print }'; }
diff <(table "$WORK/g1.log") <(table "$WORK/g2x2.log") > "$WORK/table.diff" ||
    fail "1 rank and 2 groups of 2 print different tables: $(cat "$WORK/table.diff")"
awk -F, -v tol=1e-5 '
    FNR == 1 { next }
    NR == FNR { k = $2 "," $3 "," $4; for (i = 8; i <= 12; i++) a[k, i] = $i; st[k] = $14; n++; next }
    {
        k = $2 "," $3 "," $4; m++
        if (!(k in st) || st[k] != $14) { print k ": status differs"; bad = 1; next }
        for (i = 8; i <= 12; i++) {
            d = a[k, i] - $i; d = d < 0 ? -d : d; s = a[k, i] < 0 ? -a[k, i] : a[k, i]; s = s < 1 ? 1 : s
            if (d > tol * s) { print k " column " i ": " a[k, i] " vs " $i; bad = 1 }
        }
    }
    END { if (n != m) { print n " vs " m " rows"; bad = 1 }; exit bad }' \
    "$WORK/g1/sweep.csv" "$WORK/g2x2/sweep.csv" || fail "group size 1 vs 2: CSVs differ by > 1e-5"

# The best configuration's fold 1, trained alone with the printed command, gives the same
# numbers: the last epoch's metrics row against the sweep's folds.csv row, as text.
reproduce() {
    local name=$1 np=$2 cmd want got
    cmd=$(grep -A1 '^reproduce its fold 1' "$WORK/$name.log" | tail -n 1)
    case "$cmd" in "  mpirun -np $np nndist train "*) ;; *) fail "$name: bad command: $cmd" ;; esac
    # shellcheck disable=SC2086
    run "$np" ${cmd#*nndist } --metrics "$WORK/$name-m.csv" > "$WORK/$name-train.log" 2>&1 ||
        fail "$name: the printed command failed: $(tail -n 3 "$WORK/$name-train.log")"
    best=$(sed -n 2p "$WORK/$name/sweep.csv" | cut -d, -f2-5)
    want=$(grep "^$best,1," "$WORK/$name/folds.csv" | cut -d, -f6-9)
    got=$(tail -n 1 "$WORK/$name-m.csv" | awk -F, '{ print $7 "," $6 "," $4 "," $5 }')
    [ -n "$want" ] && [ "$want" = "$got" ] ||
        fail "$name: train gives val_acc,val_loss,train_loss,train_acc $got; the sweep $want"
    grep -q "val acc ${want%%,*}, loss $(echo "$want" | cut -d, -f2) at the last epoch" \
        "$WORK/$name.log" || fail "$name: the printed numbers are not the fold's"
}
reproduce g1 1
reproduce g2x2 2
# The command for all the data is a valid train command too.
cmd=$(grep -A1 '^train it on all of' "$WORK/g2x2.log" | tail -n 1)
# shellcheck disable=SC2086
run 2 ${cmd#*nndist } > "$WORK/all.log" 2>&1 || fail "the full-data command failed: $cmd"

# Successive halving: 24 -> 8 -> 3 at 1, 3, 9 epochs. Rung 1 equals a plain 1-epoch sweep, its
# best 8 go on; rung 2 equals a plain 3-epoch sweep, the best 3 of those 8 go on.
sweep 2 h "${grid[@]}" --epochs 9 --halving
sweep 2 e1 "${grid[@]}" --epochs 1
sweep 2 e3 "${grid[@]}" --epochs 3
grep -q '^rung 2/3: 8 configurations at 3 epochs' "$WORK/h.log" || fail "halving: no rung 2 of 8"
grep -q '^rung 3/3: 3 configurations at 9 epochs' "$WORK/h.log" || fail "halving: no rung 3 of 3"
for e in 1 3; do
    grep ",$e,[0-9]*,[0-9.]*,[0-9.]*,[0-9.]*,[0-9.]*,ok$" "$WORK/h/folds.csv" | sort > "$WORK/h$e"
    grep -Ff "$WORK/h$e" "$WORK/e$e/folds.csv" | sort | cmp -s - "$WORK/h$e" ||
        fail "halving: the rung at $e epochs differs from a plain $e-epoch sweep"
done
[ "$(wc -l < "$WORK/h1")" -eq 72 ] && [ "$(wc -l < "$WORK/h3")" -eq 24 ] ||
    fail "halving: expected 24 configurations at 1 epoch and 8 at 3 (x 3 folds)"
keys() { cut -d, -f2-4 "$1" | sed -n "2,$(($2 + 1))p" | sort; }
cmp -s <(keys "$WORK/e1/sweep.csv" 8) \
       <(awk -F, 'NR > 1 && $6 >= 2' "$WORK/h/sweep.csv" | cut -d, -f2-4 | sort) ||
    fail "halving: the survivors of rung 1 are not the best 8 of the 1-epoch sweep"
awk -F, 'NR > 1 && $6 >= 2 { print $2 "," $3 "," $4 }' "$WORK/h/sweep.csv" > "$WORK/s8"
cmp -s <(grep -Ff "$WORK/s8" "$WORK/e3/sweep.csv" | head -n 3 | cut -d, -f2-4 | sort) \
       <(awk -F, 'NR > 1 && $6 == 3' "$WORK/h/sweep.csv" | cut -d, -f2-4 | sort) ||
    fail "halving: the survivors of rung 2 are not the best 3 of the 8 at 3 epochs"
awk -F, 'NR > 1 && NR <= 4 && ($6 != 3 || $5 != 9) { bad = 1 } END { exit bad }' \
    "$WORK/h/sweep.csv" || fail "halving: the table does not start with the last rung at 9 epochs"

# A diverging configuration ranks last; the heatmap; no gnuplot.
(export NNDIST_GNUPLOT=/nonexistent/gnuplot
 sweep 0 div sweep --data "$WORK/syn.h5" --layers 12,16,4 --optimizers sgd,adam --lrs 1e-1,1e8 \
     --batch 32 --folds 2 --epochs 1)
# sgd at 1e8 overflows to NaN; adam's loss stays finite but explodes (the divergence rule).
[ "$(tail -n 2 "$WORK/div/sweep.csv" | cut -d, -f2,3,14 | sort | tr '\n' ' ')" = \
  "adam,100000000,diverged sgd,100000000,diverged " ] ||
    fail "the diverging configurations do not rank last: $(cat "$WORK/div/sweep.csv")"
grep -qE '^ +[34]  sgd +1e8 .*diverged \(fold 1\)' "$WORK/div.log" ||
    fail "divergence not in the table: $(cat "$WORK/div.log")"
grep -q "no heatmap: gnuplot is not installed" "$WORK/div.log" || fail "missing gnuplot not reported"
[ ! -e "$WORK/div/heatmap.png" ] || fail "a heatmap without gnuplot"
if command -v gnuplot > /dev/null; then
    [ "$(head -c 4 "$WORK/g2x2/heatmap.png" | od -An -c | tr -d ' ')" = "211PNG" ] ||
        fail "no heatmap PNG"
fi

# Bad inputs: one error line naming the flag, exit 2, nothing written; 2 ranks (group sizes at 4).
"$MAKE_DATASET" "$WORK/tgt.h5" 100 12 4 3 targets
ok=(sweep --data "$WORK/syn.h5" --layers 12,16,4 --optimizers sgd,adam --lrs 1e-2 --folds 3)
cases=(
  "2|--lrs: item 2 of '1e-3,,1e-2' is empty|--lrs 1e-3,,1e-2"
  "2|--lrs: item 2 of '1e-3,' is empty|--lrs 1e-3,"
  "2|--optimizers: unknown 'adamz' (item 2 of 'sgd,adamz')|--optimizers sgd,adamz"
  "2|--lrs: item '0' of '0.1,0' is not allowed|--lrs 0.1,0"
  "2|--lrs: item '-1e-3' of '1e-2,-1e-3' is not allowed|--lrs 1e-2,-1e-3"
  "2|--lrs: item 'fast' of 'fast' is not a number|--lrs fast"
  "2|--lrs: '1e-3' is listed twice|--lrs 1e-3,1e-3"
  "2|--batch: item 'x' of '64,x' is not a positive integer|--batch 64,x"
  "2|--folds: 1 is out of range; expected 2..100|--folds 1"
  "2|--folds 6: class 0 has 5 samples, fewer than the 6 folds|--subset 20 --folds 6"
  "2|cross-validation needs every class at least twice|--subset 7 --folds 2"
  "2|--folds 3: 2 samples are fewer than the 3 folds|--data $WORK/tgt.h5 --loss mse --layers 12,4 --subset 2"
  "2|--group-size 3 does not divide the 2 ranks; expected one of 1, 2|--group-size 3"
  "4|--group-size 3 does not divide the 4 ranks; expected one of 1, 2, 4|--group-size 3"
  "2|--momentum applies to none of --optimizers adam,adagrad|--momentum 0.5 --optimizers adam,adagrad"
  "2|--batch 1000 is larger than a training fold (400 samples)|--batch 32,1000"
  "2|--lr does not apply to sweep: list the learning rates with --lrs|--lr 0.1"
  "2|--subset 1000: $WORK/syn.h5 has only 600 samples|--subset 1000"
  "2|--epochs E is required|(no --epochs)"
)
check_case() {
    local i=$1 np want args out err code problem=""
    IFS='|' read -r np want args <<< "${cases[$i]}"
    out="$WORK/bad-$i.out" err="$WORK/bad-$i.err"
    if [ "$args" = "(no --epochs)" ]; then  # a required flag left out
        run "$np" "${ok[@]}" --out "$WORK/bad-$i" > "$out" 2> "$err"
    else
        # shellcheck disable=SC2086
        run "$np" "${ok[@]}" --out "$WORK/bad-$i" --epochs 1 $args > "$out" 2> "$err"
    fi
    code=$?
    if [ $code -ne 2 ]; then
        problem="exit $code, expected 2: $(cat "$err")"
    elif [ "$(grep -c '^nndist: error:' "$err")" -ne 1 ]; then
        problem="expected one error line: $(cat "$err")"
    elif ! grep -qF -- "$want" "$err"; then
        problem="message lacks '$want': $(grep '^nndist' "$err")"
    elif [ -e "$WORK/bad-$i/sweep.csv" ]; then
        problem="wrote a CSV"
    fi
    [ -z "$problem" ] || echo "$args: $problem" > "$WORK/fail-$i"
}
set +e
for i in "${!cases[@]}"; do
    check_case "$i" &
    while [ "$(jobs -rp | wc -l)" -ge 4 ]; do wait -n; done
done
wait
set -e
if ls "$WORK"/fail-* > /dev/null 2>&1; then
    cat "$WORK"/fail-* >&2
    fail "$(ls "$WORK"/fail-* | wc -l) of ${#cases[@]} bad-input cases failed"
fi
echo "1 passed, 0 failed"
