# Every bad input gets one clear error line, the same exit code (2) from the job, in seconds,
# with no file overwritten; at 1 and 2 ranks.
source "$(dirname "$0")/lib.sh"
D="$WORK/data"
mkdir -p "$D"
"$MAKE_DATASET" "$D/good.h5" 300 12 4 1
"$MAKE_DATASET" "$D/seven.h5" 50 7 4 1
"$MAKE_DATASET" "$D/n4096.h5" 4096 4 2 1 # 2^53 epochs of 4096 steps overflow a 64-bit count
for v in nan-x inf-x label-neg label-big string-x rank1-x rank3-x float-y rows-mismatch no-y \
         empty targets huge; do
    "$MAKE_DATASET" "$D/$v.h5" 300 12 4 1 "$v"
done
: > "$D/zero-bytes.h5"
echo "this is not HDF5" > "$D/text.h5"
head -c 2048 "$D/good.h5" > "$D/truncated.h5"
run 1 train --data "$D/good.h5" --layers 12,5,4 --steps 2 --save "$D/other-model.h5" > /dev/null

# A previous good model that no failing run may touch.
run 1 train --data "$D/good.h5" --layers 12,8,4 --steps 2 --save "$WORK/keep.h5" > /dev/null
before=$(md5sum < "$WORK/keep.h5")

base=(train --data "$D/good.h5" --layers 12,8,4 --steps 3 --save "$WORK/keep.h5")
# name | expected text in the message | arguments after `nndist`
cases=(
  "unknown flag|unknown option '--bogus'|${base[*]} --bogus 1"
  "empty layer|--layers: '12,,4'|train --data $D/good.h5 --layers 12,,4"
  "zero layer|--layers|train --data $D/good.h5 --layers 12,0,4"
  "one layer size|--layers is required|train --data $D/good.h5 --layers 12"
  "negative lr|--lr: -1 is not allowed|${base[*]} --lr -1"
  "zero lr|--lr: 0 is not allowed|${base[*]} --lr 0"
  "lr not a number|--lr: 'abc' is not a number|${base[*]} --lr abc"
  "lr without value|--lr needs a value|${base[*]} --lr"
  "zero batch|--batch: 0 is too small|${base[*]} --batch 0"
  "negative epochs|--epochs: '-2'|train --data $D/good.h5 --layers 12,8,4 --epochs -2"
  "unknown optimizer|--optimizer: unknown 'adamz'|${base[*]} --optimizer adamz"
  "unknown activation|--activation: unknown 'swish'|${base[*]} --activation swish"
  "negative leaky slope|--leaky-slope -0.1: a negative slope is not supported|${base[*]} --activation leaky-relu --leaky-slope -0.1"
  "slope without leaky-relu|--leaky-slope applies to --activation leaky-relu only|${base[*]} --leaky-slope 0.1"
  "zero elu alpha|--elu-alpha 0: alpha must be > 0|${base[*]} --activation elu --elu-alpha 0"
  "alpha not a number|--elu-alpha: 'x' is not a number|${base[*]} --activation elu --elu-alpha x"
  "unknown loss|--loss: unknown 'hinge'|${base[*]} --loss hinge"
  "steps and epochs|exclude each other|${base[*]} --epochs 2"
  "resume without dir|--resume auto needs --checkpoint-dir|${base[*]} --resume auto"
  "missing data|$D/missing.h5: cannot open|train --data $D/missing.h5 --layers 12,8,4"
  "no data flag|--data FILE is required|train --layers 12,8,4"
  "zero-byte file|the file is empty|train --data $D/zero-bytes.h5 --layers 12,8,4"
  "text file|not an HDF5 file|train --data $D/text.h5 --layers 12,8,4"
  "truncated file|truncated.h5|train --data $D/truncated.h5 --layers 12,8,4"
  "no labels|no dataset '/y'|train --data $D/no-y.h5 --layers 12,8,4"
  "strings|holds string values|train --data $D/string-x.h5 --layers 12,8,4"
  "1-D features|expected 2 (N, D)|train --data $D/rank1-x.h5 --layers 12,8,4"
  "3-D features|has 3 dimensions|train --data $D/rank3-x.h5 --layers 12,8,4"
  "float labels|expected integer class labels|train --data $D/float-y.h5 --layers 12,8,4"
  "rows differ|has 300 rows but '/y' has 299|train --data $D/rows-mismatch.h5 --layers 12,8,4"
  "N = 0|expected N >= 1|train --data $D/empty.h5 --layers 12,8,4"
  "dims overflow|is too large (1099511627776 x 1073741824)|train --data $D/huge.h5 --layers 12,8,4"
  "negative label|holds label -1; expected 0..3|train --data $D/label-neg.h5 --layers 12,8,4"
  "label too big|holds label 4; expected 0..3|train --data $D/label-big.h5 --layers 12,8,4"
  "NaN feature|is nan; expected finite|train --data $D/nan-x.h5 --layers 12,8,4"
  "Inf feature|is inf; expected finite|train --data $D/inf-x.h5 --layers 12,8,4"
  "D != first layer|12 features but the first layer takes 13|train --data $D/good.h5 --layers 13,8,4"
  "mse with labels|--loss mse needs|train --data $D/good.h5 --layers 12,8,4 --loss mse"
  "ce with targets|needs integer class labels|train --data $D/targets.h5 --layers 12,8,4"
  "bad val file|not an HDF5 file|${base[*]} --val $D/text.h5"
  "init of another model|layers 12,5,4; this run asks for --layers 12,8,4|${base[*]} --init $D/other-model.h5"
  "x-name missing|no dataset '/features'|${base[*]} --x-name /features"
  "unknown command|unknown command 'trian'|trian --data x"
  "eval without model|eval needs --model|eval --data $D/good.h5"
  "eval of a non-model|no /model/layer_0/W|eval --model $D/good.h5 --data $D/good.h5"
  "eval shape mismatch|7 features but the first layer takes 12|eval --model $WORK/keep.h5 --data $D/seven.h5"
  "convert missing|missing.gz|convert idx --images $D/missing.gz --labels $D/missing.gz --out $WORK/keep.h5"
  "eps 0|--eps: 0 is out of range; expected > 0|${base[*]} --optimizer adam --eps 0"
  "epochs overflow|the run's step count overflows|train --data $D/n4096.h5 --layers 4,3,2 --batch 1 --epochs 9007199254740992"
  "save dir missing|--save $WORK/no/m.h5: the directory $WORK/no does not exist|train --data $D/good.h5 --layers 12,8,4 --steps 3 --save $WORK/no/m.h5"
  "save is a dir|--save $D: is a directory|train --data $D/good.h5 --layers 12,8,4 --save $D"
  "metrics dir missing|--metrics $WORK/no/m.csv: the directory|${base[*]} --metrics $WORK/no/m.csv"
  "checkpoint dir too long|path too long (4079 bytes; with the checkpoints' names|${base[*]} --checkpoint-dir $WORK/$(printf 'd%.0s' $(seq $((4078 - ${#WORK}))))"
)
# check_case NP INDEX: runs one case and checks it; runs in the background, so it reports a
# failure by writing it to $WORK/fail-NP-INDEX (fail() would only end the subshell).
check_case() {
    local np=$1 i=$2 name want args out err code lines start problem=""
    IFS='|' read -r name want args <<< "${cases[$i]}"
    out="$WORK/out-$np-$i.txt" err="$WORK/err-$np-$i.txt"
    start=$SECONDS
    # shellcheck disable=SC2086
    if [ "$np" -eq 1 ]; then  # a singleton, as a user runs it without mpirun
        timeout -k 5 60 "$NNDIST" $args > "$out" 2> "$err"
    else
        run "$np" $args > "$out" 2> "$err"
    fi
    code=$?
    lines=$(grep -c '^nndist: error:' "$err" || true)
    if [ $code -ne 2 ]; then
        problem="exit $code, expected 2; stderr: $(cat "$err")"
    elif [ "$lines" -ne 1 ]; then
        problem="$lines error lines, expected 1: $(cat "$err")"
    elif ! grep -qF -- "$want" "$err"; then
        problem="message lacks '$want': $(grep '^nndist' "$err")"
    elif [ $((SECONDS - start)) -ge 30 ]; then
        problem="took $((SECONDS - start)) s"
    fi
    [ -z "$problem" ] || echo "np=$np $name: $problem" > "$WORK/fail-$np-$i"
}

# Cases run four at a time: most of a failing mpirun job's time is Open MPI waiting ~2 s before
# it tears the job down, not work.
set +e
tried=0
# BAD_INPUT_RANKS="1" (the sanitizer pass) keeps to one rank: the error paths' memory is the
# same, and every process starts several times slower there.
for np in ${BAD_INPUT_RANKS:-1 2}; do
    for i in "${!cases[@]}"; do
        check_case $np "$i" &
        tried=$((tried + 1))
        while [ "$(jobs -rp | wc -l)" -ge 4 ]; do wait -n; done
    done
done
wait
set -e
if ls "$WORK"/fail-* > /dev/null 2>&1; then
    cat "$WORK"/fail-* >&2
    fail "$(ls "$WORK"/fail-* | wc -l) of $tried bad-input cases failed"
fi
[ "$(md5sum < "$WORK/keep.h5")" = "$before" ] || fail "keep.h5 changed"
ls "$WORK"/*.tmp > /dev/null 2>&1 && fail "a .tmp file was left behind"
echo "bad inputs tried: $tried"
echo "1 passed, 0 failed"
