# The progress bar (carriage-return redraws) goes to a terminal the user watches, never into a log:
# under `mpirun ... > file` the rank still sees a pseudo-terminal of Open MPI's, and the file must
# get the per-epoch lines only. The same run with mpirun on a terminal (script(1) gives it one)
# draws the bar, so the check above can fail.
source "$(dirname "$0")/lib.sh"
command -v script > /dev/null || { echo "script(1) not installed: skipped"; exit 77; }
"$MAKE_DATASET" "$WORK/train.h5" 20000 64 5 3
args=(train --data "$WORK/train.h5" --layers 64,256,256,5 --lr 0.05 --epochs 2 --batch 16)
export TERM=xterm
unset CI
timeout -k 5 120 "$MPIEXEC" -np 2 --oversubscribe --bind-to none "$NNDIST" "${args[@]}" \
    > "$WORK/log.txt" 2>&1 || fail "train failed: $(cat "$WORK/log.txt")"
[ "$(grep -c '^epoch ' "$WORK/log.txt")" -eq 2 ] || fail "expected 2 epoch lines: $(cat "$WORK/log.txt")"
! grep -q $'\r' "$WORK/log.txt" || fail "carriage returns (the progress bar) in a redirected log"
printf -v cmd '%q ' timeout -k 5 120 "$MPIEXEC" -np 2 --oversubscribe --bind-to none "$NNDIST" "${args[@]}"
script -qec "$cmd" /dev/null > "$WORK/tty.txt" 2>&1 || fail "train on a terminal failed: $(cat "$WORK/tty.txt")"
grep -q $'\r  epoch 1 \[' "$WORK/tty.txt" || fail "no progress bar on a terminal: $(cat -A "$WORK/tty.txt" | head)"
echo "1 passed, 0 failed"
