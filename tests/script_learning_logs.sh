#!/usr/bin/env bash
# What a run reports about its learning: mse runs print and write R^2, never an accuracy, and
# the validation R^2 is eval's; --log-every's step rows (CSV and JSON lines); a resumed run
# continues both files exactly as the uninterrupted run wrote them (no partial-epoch row, the
# interrupted epoch's and window's sums carried by the checkpoint); --early-stop and
# --save-best, and their state across a resume; the refusals.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2> /dev/null || { echo "SKIP: needs python3-numpy and python3-h5py"; exit 77; }
cd "$WORK"

# Regression: r2 in the epoch line and the files, equal to eval's on the same model.
"$MAKE_DATASET" reg.h5 600 6 3 5 targets
"$MAKE_DATASET" regv.h5 200 6 3 6 targets
run 2 train --data reg.h5 --val regv.h5 --loss mse --layers 6,12,3 --lr 0.05 --epochs 3 \
    --no-progress --metrics r.csv --save reg_model.h5 > reg.log || fail "mse train failed"
grep -q "^epoch 3/3 .* loss [0-9.]*  r2 -\?[0-9.]*  val loss [0-9.]* r2 -\?[0-9.]* " reg.log ||
    fail "mse epoch line: $(cat reg.log)"
! grep -q " acc " reg.log || fail "an accuracy in an mse run: $(cat reg.log)"
grep -q "^step,epoch,lr,train_loss,train_r2,val_loss,val_r2," <(head -n 1 r.csv) ||
    fail "mse metrics header: $(head -n 1 r.csv)"
eval_r2=$(run 1 eval --model reg_model.h5 --data regv.h5 | sed -n 's/.*  r2 \(-\?[0-9.]*\) .*/\1/p')
line_r2=$(sed -n 's/^epoch 3\/3 .* val loss [0-9.]* r2 \(-\?[0-9.]*\) .*/\1/p' reg.log)
[ -n "$eval_r2" ] && [ "$eval_r2" = "$line_r2" ] || fail "val r2 $line_r2, eval's $eval_r2"

# A sweep of mse runs is ranked by the validation loss and labelled with R^2.
run 2 sweep --data reg.h5 --loss mse --layers 6,12,3 --optimizers sgd,adam --lrs 0.001,0.05 \
    --epochs 2 --folds 2 --out sw > sw.log || fail "mse sweep failed"
grep -q "^rank  optimizer .* val r2 .* val loss" sw.log || fail "mse sweep table: $(cat sw.log)"
grep -q "^best: .* val r2 " sw.log || fail "mse sweep best line: $(cat sw.log)"
"$PY" - << 'PYEOF' || fail "the mse sweep is not ranked by val loss: $(cat sw/sweep.csv)"
import csv, sys
rows = list(csv.DictReader(open("sw/sweep.csv")))
loss = [float(r["val_loss_mean"]) for r in rows]
folds = list(csv.DictReader(open("sw/folds.csv")))
sys.exit(not (len(rows) == 4 and loss == sorted(loss) and "val_r2_mean" in rows[0]
              and "val_acc_mean" not in rows[0] and "train_r2" in folds[0]))
PYEOF

# Step rows; a run stopped mid-epoch and mid-window, then resumed, writes what the
# uninterrupted run writes (timings aside). 300 samples, batch 30: 10 steps per epoch.
"$MAKE_DATASET" train.h5 300 12 4 1
"$MAKE_DATASET" val.h5 100 12 4 2
common=(train --data train.h5 --val val.h5 --layers 12,8,4 --batch 30 --lr 0.1 --no-progress
        --log-every 4)
for ext in csv jsonl; do
    run 2 "${common[@]}" --epochs 4 --metrics full.$ext > /dev/null || fail "uninterrupted run ($ext)"
    run 2 "${common[@]}" --steps 23 --metrics part.$ext --checkpoint-dir ck$ext \
        --checkpoint-every 7 > /dev/null || fail "first part ($ext)"
    # CSV: as if killed after step 23's rows, before its checkpoint (resumed at 21); JSON
    # lines: resumed at step 23, whose partial-epoch row the resumed run replaces.
    from=23
    if [ $ext = csv ]; then rm ck$ext/ckpt-000000000023.h5; from=21; fi
    run 2 "${common[@]}" --epochs 4 --metrics part.$ext --checkpoint-dir ck$ext --resume auto \
        > resumed.log || fail "resume ($ext)"
    grep -q "resuming from .*ckpt-0000000000$from.h5" resumed.log || fail "$(cat resumed.log)"
done
"$PY" - << 'PYEOF' || fail "the resumed files differ from the uninterrupted run's"
import csv, json, sys
timing = {"samples_per_s", "compute_s", "allreduce_s", "update_s", "io_s", "forward_s", "backward_s"}
def rows(path):
    if path.endswith(".jsonl"):
        return [json.loads(l) for l in open(path)]
    return [{k: (float(v) if v else None) for k, v in r.items()} for r in csv.DictReader(open(path))]
def same(a, b):
    ra, rb = rows(a), rows(b)
    ok = len(ra) == len(rb) and len(ra) > 0
    for x, y in zip(ra, rb):
        ok &= {k: v for k, v in x.items() if k not in timing} == {k: v for k, v in y.items() if k not in timing}
    if not ok:
        print(a, ra, "\n", b, rb)
    return ok
ok = True
for ext in ("csv", "jsonl"):
    ok &= same(f"full.{ext}", f"part.{ext}")
    ok &= same(f"full.steps.{ext}", f"part.steps.{ext}")
    steps = [r["step"] for r in rows(f"full.steps.{ext}")]
    ok &= steps == [4.0 * i for i in range(1, 11)] or steps == [4 * i for i in range(1, 11)]
    ok &= [r["step"] for r in rows(f"full.{ext}")] in ([10.0, 20.0, 30.0, 40.0], [10, 20, 30, 40])
first = json.loads(open("full.jsonl").readline())
ok &= list(first)[:5] == ["step", "epoch", "lr", "train_loss", "train_acc"] and "val_acc" in first
sys.exit(not ok)
PYEOF

# Early stopping: at a learning rate too small to move the accuracy, the first evaluation stays
# the best and --early-stop 2 ends the run after epoch 3; --save-best holds epoch 1's model.
slow=(train --data train.h5 --val val.h5 --layers 12,8,4 --batch 30 --lr 1e-9 --no-progress
      --early-stop 2 --save-best best.h5)
run 2 "${slow[@]}" --epochs 10 --save last.h5 > stop.log || fail "early-stop run failed"
grep -q "^early stop: the validation accuracy has not improved for 2 evaluations" stop.log ||
    fail "no early stop: $(cat stop.log)"
[ "$(grep -c '^epoch ' stop.log)" -eq 3 ] || fail "not 3 epochs: $(cat stop.log)"
grep -q "the best model (step 10, validation accuracy" stop.log || fail "$(cat stop.log)"
"$PY" -c '
import h5py, sys
sys.exit(not (h5py.File("best.h5")["/"].attrs["step"] == 10 and h5py.File("last.h5")["/"].attrs["step"] == 30))' ||
    fail "best.h5 is not step 10's model or last.h5 not step 30's"

# The count of evaluations without improvement survives a resume: 2 epochs (one evaluation
# without improvement), then a resume stops after one more epoch, and best.h5 is not rewritten.
rm -f best.h5
run 2 "${slow[@]}" --steps 20 --checkpoint-dir cks > /dev/null || fail "first half of the early stop"
sum_before=$(md5sum < best.h5)
run 2 "${slow[@]}" --epochs 10 --checkpoint-dir cks --resume auto > stop2.log || fail "resumed early stop"
grep -q "^early stop" stop2.log && [ "$(grep -c '^epoch ' stop2.log)" -eq 1 ] ||
    fail "the resumed run did not stop after 1 epoch: $(cat stop2.log)"
grep -q "the best model (step 10," stop2.log || fail "best step lost: $(cat stop2.log)"
[ "$(md5sum < best.h5)" = "$sum_before" ] || fail "best.h5 was rewritten without improvement"

# Refusals.
for case in "--log-every 5|--log-every needs --metrics FILE" \
            "--early-stop 3|--early-stop needs --val FILE" \
            "--save-best b.h5|--save-best needs --val FILE"; do
    args=${case%%|*} want=${case#*|}
    rc=0
    # shellcheck disable=SC2086
    run 1 train --data train.h5 --layers 12,8,4 --epochs 1 $args > refused.log 2>&1 || rc=$?
    [ "$rc" -eq 2 ] && grep -q -- "$want" refused.log || fail "$args: rc $rc, $(cat refused.log)"
done
echo ok
