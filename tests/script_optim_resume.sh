# For every optimizer (and the variants with extra state): the same run at 1 and 4 ranks agrees
# within 1e-5; a run resumed from its step-12 checkpoint equals the uninterrupted one bitwise
# (with a warmup + cosine schedule and gradient clipping on, so the schedule's step and every
# state tensor must come back); a checkpoint resumed with another optimizer or other state
# settings is refused with a message naming both.
source "$(dirname "$0")/lib.sh"
# Debian's python3 with h5py reads the checkpoints' /optimizer group (optional: the rest of the
# test runs without it).
PY=/usr/bin/python3
"$PY" -c "import h5py, numpy" 2> /dev/null || { echo "note: no h5py: /optimizer not inspected"; PY=; }
"$MAKE_DATASET" "$WORK/train.h5" 600 10 3 5
common=(--data "$WORK/train.h5" --layers 10,12,3 --batch 40 --seed 9 --steps 24 --no-progress
        --lr-schedule cosine --warmup-steps 5 --clip-norm 1.0)
variants=(
    "sgd|--optimizer sgd --lr 0.1"
    "momentum|--optimizer momentum --lr 0.05 --weight-decay 1e-3"
    "nesterov|--optimizer nesterov --lr 0.05"
    "rmsprop|--optimizer rmsprop --lr 3e-3"
    "rmsprop-centered|--optimizer rmsprop --lr 1e-3 --centered --momentum 0.5"
    "adam|--optimizer adam --lr 3e-3"
    "adam-amsgrad|--optimizer adam --lr 3e-3 --amsgrad --weight-decay 1e-3"
    "adamw|--optimizer adamw --lr 3e-3"
    "adamax|--optimizer adamax"
    "nadam|--optimizer nadam"
    "adagrad|--optimizer adagrad --lr-decay 0.01"
    "adadelta|--optimizer adadelta"
    "lars|--optimizer lars --weight-decay 1e-4"
    "lamb|--optimizer lamb --lr 3e-3"
)
for v in "${variants[@]}"; do
    name=${v%%|*}
    read -r -a flags <<< "${v#*|}"
    d="$WORK/$name"
    mkdir -p "$d"
    run 1 train "${common[@]}" "${flags[@]}" --save "$d/np1.h5" > "$d/np1.log" 2>&1 ||
        fail "$name: 1 rank failed: $(tail -n 2 "$d/np1.log")"
    run 4 train "${common[@]}" "${flags[@]}" --save "$d/np4.h5" > "$d/np4.log" 2>&1 ||
        fail "$name: 4 ranks failed: $(tail -n 2 "$d/np4.log")"
    "$COMPARE_MODELS" "$d/np1.h5" "$d/np4.h5" 1e-5 > "$d/cmp4.txt" ||
        fail "$name: 1 and 4 ranks differ: $(cat "$d/cmp4.txt")"
    run 2 train "${common[@]}" "${flags[@]}" --checkpoint-dir "$d/full" --checkpoint-every 4 \
        --keep 10 --save "$d/full.h5" > "$d/full.log" 2>&1 ||
        fail "$name: 2 ranks failed: $(tail -n 2 "$d/full.log")"
    ckpt="$d/full/ckpt-000000000012.h5"
    [ -f "$ckpt" ] || fail "$name: no checkpoint at step 12"
    run 2 train "${common[@]}" "${flags[@]}" --resume "$ckpt" --checkpoint-dir "$d/resumed" \
        --save "$d/resumed.h5" > "$d/resumed.log" 2>&1 ||
        fail "$name: resume failed: $(tail -n 2 "$d/resumed.log")"
    grep -q "resuming from .*ckpt-000000000012.h5 at step 12" "$d/resumed.log" ||
        fail "$name: resume did not report its checkpoint"
    "$COMPARE_MODELS" "$d/full.h5" "$d/resumed.h5" 0 > "$d/cmp-resume.txt" ||
        fail "$name: resumed run is not bitwise equal: $(cat "$d/cmp-resume.txt")"
    # The optimizer state at the end is bitwise equal too (the end-of-run checkpoints).
    if [ -n "$PY" ]; then
        "$PY" - "$d/full/ckpt-000000000024.h5" "$d/resumed/ckpt-000000000024.h5" <<'PYEOF' ||
import sys, h5py, numpy as np
def walk(path):
    out = {}
    with h5py.File(path, "r") as f:
        g = f["optimizer"]
        out["attrs"] = {k: np.asarray(v).tobytes() for k, v in g.attrs.items()}
        g.visititems(lambda n, o: out.__setitem__(n, o[()].tobytes()) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
sys.exit(0 if a == b and len(a) > 0 else 1)
PYEOF
            fail "$name: the optimizer state after the resumed run differs"
    fi
    echo "$name: 1 vs 4 ranks $(sed 's/.*= //' "$d/cmp4.txt"); resume bitwise"
done
# Another optimizer is refused, naming both.
if run 2 train "${common[@]}" --optimizer nadam --resume "$WORK/adam/full/ckpt-000000000012.h5" \
    > /dev/null 2> "$WORK/err1.txt"; then fail "adam checkpoint resumed with nadam"; fi
grep -q "made with optimizer 'adam', but this run uses 'nadam'" "$WORK/err1.txt" ||
    fail "unclear message: $(cat "$WORK/err1.txt")"
# The same optimizer with other state (amsgrad adds max_exp_avg_sq) is refused too.
if run 2 train "${common[@]}" --optimizer adam --resume "$WORK/adam-amsgrad/full/ckpt-000000000012.h5" \
    > /dev/null 2> "$WORK/err2.txt"; then fail "amsgrad checkpoint resumed without --amsgrad"; fi
grep -q "amsgrad" "$WORK/err2.txt" || fail "unclear message: $(cat "$WORK/err2.txt")"
# The checkpoint names the state like torch.optim and records the hyperparameters.
if [ -n "$PY" ]; then
    "$PY" - "$WORK/adam-amsgrad/full/ckpt-000000000012.h5" "$WORK/nadam/full/ckpt-000000000012.h5" <<'PYEOF' ||
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    g = f["optimizer"]
    for a in ("name", "step", "lr", "beta1", "beta2", "eps", "amsgrad", "weight_decay", "clip_norm"):
        assert a in g.attrs, f"/optimizer lacks the {a} attribute"
    assert sorted(g.keys()) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], sorted(g.keys())
    assert sorted(g["exp_avg"].keys()) == ["layer_0", "layer_1"]
    assert g["exp_avg/layer_0/W"].shape == (12, 10) and g["exp_avg/layer_1/b"].shape == (3,)
with h5py.File(sys.argv[2], "r") as f:
    assert "mu_product" in f["optimizer"].attrs, "nadam lacks mu_product"
    assert f["optimizer"].attrs["momentum_decay"] == 4e-3
PYEOF
        fail "the checkpoint's /optimizer group is not as documented"
fi
echo "1 passed, 0 failed"
