#!/usr/bin/env bash
# `nndist convert npy`: arrays written by NumPy in every supported dtype, both byte orders, C and
# Fortran order, read back equal to NumPy's own float32 conversion; integer and bool labels,
# float targets; the refusals (3 dimensions, a NaN, a negative label, mismatched rows, another
# dtype) exit 2 and write nothing; the converted data trains.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2> /dev/null || { echo "SKIP: needs python3-numpy and python3-h5py"; exit 77; }
cd "$WORK"
"$PY" - << 'PYEOF'
import numpy as np
rng = np.random.default_rng(5)
n, d = 1000, 7
x = rng.normal(size=(n, d)) * 3
np.save("x_f8.npy", x)
np.save("x_f4_fortran.npy", np.asfortranarray(x.astype(np.float32)))
np.save("x_f4_big.npy", x.astype(">f4"))
np.save("x_i2.npy", (x * 100).astype(np.int16))
np.save("x_u1_fortran_big.npy", np.asfortranarray((np.abs(x) * 10).astype(np.uint8)))
np.save("x_1d.npy", x[:, 0].copy())
y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
np.save("y_i8.npy", y)
np.save("y_u1.npy", y.astype(np.uint8))
np.save("y_bool.npy", y > 0)
np.save("t_f8.npy", x[:, :2] * 0.5)
np.save("bad_3d.npy", np.zeros((4, 2, 2), np.float32))
xn = x.copy(); xn[500, 3] = np.nan; np.save("bad_nan.npy", xn)
np.save("bad_neg.npy", y - 1)
np.save("bad_rows.npy", y[:999])
np.save("bad_dtype.npy", x.astype(np.complex64))
PYEOF
for xf in x_f8 x_f4_fortran x_f4_big x_i2 x_u1_fortran_big x_1d; do
    for yf in y_i8 y_u1 y_bool t_f8 none; do
        args=(--x "$xf.npy" --out "$xf-$yf.h5")
        [ "$yf" = none ] || args+=(--y "$yf.npy")
        "$NNDIST" convert npy "${args[@]}" > "$xf-$yf.log" 2>&1 || fail "$xf + $yf: $(cat "$xf-$yf.log")"
    done
done
grep -q "1000 samples, 7 features, class labels 0 to 2" x_f8-y_i8.log || fail "$(cat x_f8-y_i8.log)"
grep -q "1000 samples, 1 features, 2 regression targets" x_1d-t_f8.log || fail "$(cat x_1d-t_f8.log)"
"$PY" - << 'PYEOF' || fail "the converted arrays differ from NumPy's"
import numpy as np, h5py, sys
bad = 0
for xf in ["x_f8", "x_f4_fortran", "x_f4_big", "x_i2", "x_u1_fortran_big", "x_1d"]:
    want_x = np.load(xf + ".npy").astype(np.float32).reshape(1000, -1)
    for yf in ["y_i8", "y_u1", "y_bool", "t_f8", "none"]:
        with h5py.File(f"{xf}-{yf}.h5", "r") as f:
            ok = f["X"].dtype == np.float32 and np.array_equal(f["X"][()], want_x)
            if yf == "none":
                ok &= "y" not in f
            elif yf == "t_f8":
                ok &= f["y"].dtype == np.float32 and np.array_equal(f["y"][()], np.load(yf + ".npy").astype(np.float32))
            else:
                ok &= f["y"].dtype == np.int32 and np.array_equal(f["y"][()], np.load(yf + ".npy").astype(np.int32))
        if not ok:
            print(f"{xf} + {yf}: differs", file=sys.stderr)
            bad += 1
sys.exit(bad != 0)
PYEOF

# Refusals: exit 2, the file and what was expected named, nothing written.
refuse() {
    local want=$1
    shift
    rc=0
    "$NNDIST" convert npy "$@" --out refused.h5 > refused.log 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "$*: exit $rc, expected 2"
    grep -q -- "$want" refused.log || fail "$*: $(cat refused.log)"
    [ ! -e refused.h5 ] || fail "$*: wrote a file"
}
refuse "bad_3d.npy: 3 dimensions; expected (N,) or (N, D)" --x bad_3d.npy
refuse "bad_nan.npy: element \[500, 3\] is not finite" --x bad_nan.npy
refuse "bad_neg.npy: label \[.*\] = -1 is not a class number" --x x_f8.npy --y bad_neg.npy
refuse "x_f8.npy has 1000 rows but bad_rows.npy has 999" --x x_f8.npy --y bad_rows.npy
refuse "bad_dtype.npy: dtype '<c8': expected bool" --x bad_dtype.npy
refuse "not a .npy file" --x x_f8-y_i8.h5

run 2 train --data x_f4_fortran-y_i8.h5 --layers 7,16,3 --optimizer adam --lr 0.01 --epochs 2 \
    --no-progress > train.log || fail "training on the converted arrays failed"

# Bounded memory: a 96 MB array (3,000,000 x 8 float32, Fortran order: a read per column and
# block) converts with a peak far below its size (the converter reports its own peak).
if [ -z "${ASAN_OPTIONS:-}" ]; then
    "$PY" -c 'import numpy as np; np.save("big.npy", np.asfortranarray(np.ones((3000000, 8), np.float32)))'
    "$NNDIST" convert npy --x big.npy --out big.h5 > big.log || fail "big: $(cat big.log)"
    peak=$(sed -n 's/.*(peak memory \([0-9.]*\) MB).*/\1/p' big.log)
    echo "a 96 MB .npy converted with a peak of ${peak} MB"
    awk -v p="$peak" 'BEGIN { exit !(p > 0 && p < 64) }' || fail "big: peak memory ${peak} MB"
fi
