# sweep's model axes (sweep.h): --layers A/B, --dropout P,Q (each train's --dropout) and
# --weight-decay X,Y span the grid beside the optimizers, learning rates and batch sizes:
#  - 2 x 2 x 2 of them make 8 configurations, each named in the table with its model, and the
#    CSVs carry layers, dropout and weight_decay columns before the status;
#  - the best configuration's printed command (its --layers, --dropout and --weight-decay)
#    reproduces its fold 1 exactly;
#  - a per-layer dropout that fits only one --layers alternative, alternatives with other inputs
#    or outputs, and a bad item are refused with one message.
source "$(dirname "$0")/lib.sh"

"$MAKE_DATASET" "$WORK/train.h5" 600 12 4 5
sw=(sweep --data "$WORK/train.h5" --optimizers adam --lrs 0.01 --folds 2 --epochs 2)
run 2 "${sw[@]}" --layers 12,16,4/12,24,16,4 --dropout 0,0.3 --weight-decay 0,0.001 \
    --out "$WORK/ax" < /dev/null > "$WORK/ax.log" 2>&1 || fail "sweep: $(tail -n 3 "$WORK/ax.log")"
rows=$(awk -F, 'NR > 1' "$WORK/ax/sweep.csv" | wc -l)
[ "$rows" -eq 8 ] || fail "expected 8 configurations, sweep.csv has $rows"
head -n 1 "$WORK/ax/sweep.csv" | grep -q ',seconds,layers,dropout,weight_decay,status$' ||
    fail "sweep.csv header: $(head -n 1 "$WORK/ax/sweep.csv")"
grep -q '^"12,24,16,4",0.3,0.001,ok$' <(sed 's/^.*,\("[0-9,]*",\)/\1/' "$WORK/ax/sweep.csv") ||
    fail "no row for layers 12,24,16,4, dropout 0.3, wd 0.001: $(cat "$WORK/ax/sweep.csv")"
grep -Eq '^ +[0-9]+ +adam .* layers 12,24,16,4 dropout 0.3 wd 0.001$' "$WORK/ax.log" ||
    fail "the table does not name the model axes: $(cat "$WORK/ax.log")"
echo "8 configurations: $(grep -Ec '^ +[0-9]+ +adam .* layers ' "$WORK/ax.log") table rows with their model"

cmd=$(grep -A1 '^reproduce its fold 1' "$WORK/ax.log" | tail -n 1)
best=$(grep -A1 '^best' "$WORK/ax.log" | head -n 1)
case "$cmd" in *" --layers "*" --weight-decay "*) ;; *) fail "the command lacks the axes: $cmd" ;; esac
# shellcheck disable=SC2086
run 2 ${cmd#*nndist } --metrics "$WORK/m.csv" < /dev/null > "$WORK/train.log" 2>&1 ||
    fail "the printed command failed: $(tail -n 3 "$WORK/train.log")"
# The best row of sweep.csv, its fold 1 in folds.csv (matched on everything before the fold).
first=$(sed -n 2p "$WORK/ax/sweep.csv")
key=$(echo "$first" | cut -d, -f2-5)
model=$(echo "$first" | sed 's/^.*,\("[0-9,]*",[^,]*,[^,]*\),ok$/\1/')
want=$(grep -F "$key,1," "$WORK/ax/folds.csv" | grep -F ",$model,ok" | cut -d, -f7)
got=$(tail -n 1 "$WORK/m.csv" | cut -d, -f6)
[ -n "$want" ] && [ "$want" = "$got" ] ||
    fail "best's fold 1: the sweep's validation loss $want, its train command's $got ($best)"
echo "the best ($model) reproduced by its train command: validation loss $want"

sweep_refused() {
    local says=$1; shift
    local rc=0
    run 2 "${sw[@]}" "$@" --out "$WORK/bad" < /dev/null > "$WORK/refused.log" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "exit $rc (expected 2) for: $*"
    grep -qF -- "$says" "$WORK/refused.log" || fail "for $*: $(cat "$WORK/refused.log")"
    [ "$(grep -c 'nndist: error' "$WORK/refused.log")" -eq 1 ] || fail "not one message: $*"
}
sweep_refused "with --optimizers adam and --layers 12,16,4: --dropout 0.2:0.5: 2 values for 1 hidden" \
    --layers 12,16,4/12,24,16,4 --dropout 0.2:0.5
sweep_refused "--layers: '12,16,4' and '12,16,3' differ in their inputs or outputs" \
    --layers 12,16,4/12,16,3
sweep_refused "--weight-decay: item 2 of '0,,1' is empty" --layers 12,16,4 --weight-decay 0,,1
sweep_refused "--dropout 1: expected a probability in [0, 1)" --layers 12,16,4 --dropout 0,1
echo "1 passed, 0 failed"
