#!/usr/bin/env bash
# `nndist convert csv`: a CSV with a header, quoted fields and CRLF line ends becomes a dataset
# that trains; targets and --no-label; refusals exit 2 naming line and column and leave an
# existing output alone; a CSV larger than the converter's memory bound converts with bounded
# peak memory (it streams: two passes, a block of rows at a time).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
N=$NNDIST
# 3 classes from the signs of two features; 6 features, 3000 rows, CRLF, a quoted header.
awk 'BEGIN { srand(7); printf "\"f 1\",\"f,2\",f3,f4,f5,f6,class\r\n";
    for (i = 0; i < 3000; i++) { a = rand() - 0.5; b = rand() - 0.5;
        printf "%.5f,\"%.5f\",%.5f,%.5f,%.5f,%.5f,%d\r\n", a, b, rand(), rand(), a * b, rand(),
            (a > 0) + (b > 0) }}' > "$WORK/train.csv"
"$N" convert csv --input "$WORK/train.csv" --out "$WORK/train.h5" > "$WORK/conv.log" ||
    fail "convert failed: $(cat "$WORK/conv.log")"
grep -q "wrote $WORK/train.h5: 3000 samples, 6 features, class labels 0 to 2" "$WORK/conv.log" ||
    fail "convert said: $(cat "$WORK/conv.log")"
run 2 train --data "$WORK/train.h5" --layers 6,32,3 --optimizer adam --lr 0.01 --epochs 3 \
    --no-progress > "$WORK/train.log" || fail "training on the converted CSV failed"
awk '/^epoch 3\/3/ { if ($8 + 0 < 0.8) exit 1; found = 1 } END { exit !found }' "$WORK/train.log" ||
    fail "the converted data does not train: $(tail -n 1 "$WORK/train.log")"

# Targets (by name) and data without labels.
"$N" convert csv --input "$WORK/train.csv" --out "$WORK/reg.h5" --target-columns f5,f6 \
    > "$WORK/reg.log" || fail "targets: $(cat "$WORK/reg.log")"
grep -q "3000 samples, 5 features, 2 regression targets" "$WORK/reg.log" || fail "targets: $(cat "$WORK/reg.log")"
"$N" info "$WORK/reg.h5" | grep -q '/y .*float32 *(3000, 2)' || fail "targets: /y is not (3000, 2)"
"$N" convert csv --input "$WORK/train.csv" --out "$WORK/nolabel.h5" --no-label > /dev/null ||
    fail "--no-label failed"
if "$N" info "$WORK/nolabel.h5" | grep -q '^  /y'; then fail "--no-label wrote /y"; fi

# A refusal: exit 2, line and column named, the existing output untouched.
cp "$WORK/train.h5" "$WORK/keep.h5"
sed '1500s/^[^,]*,/,/' "$WORK/train.csv" > "$WORK/hole.csv"
rc=0
"$N" convert csv --input "$WORK/hole.csv" --out "$WORK/train.h5" 2> "$WORK/err.txt" || rc=$?
[ "$rc" -eq 2 ] || fail "a missing value: exit $rc, expected 2"
grep -q "hole.csv: line 1500, column 'f 1' (index 0): a missing value" "$WORK/err.txt" ||
    fail "missing value message: $(cat "$WORK/err.txt")"
cmp -s "$WORK/train.h5" "$WORK/keep.h5" || fail "a refused conversion changed the existing output"
[ -z "$(ls "$WORK"/train.h5.*.tmp 2> /dev/null)" ] || fail "a temporary was left behind"

# Bounded memory: a CSV of about 100 MB (500,000 rows x 20 columns) converts with a peak far
# below the file's size (the converter reports its own peak).
if [ -z "${ASAN_OPTIONS:-}" ]; then
    awk 'BEGIN { srand(3); for (i = 0; i < 500000; i++) { for (j = 0; j < 20; j++)
        printf "%.6f,", rand() * 1000; printf "%d\n", i % 10 } }' > "$WORK/big.csv"
    mb=$(du -m "$WORK/big.csv" | cut -f1)
    "$N" convert csv --input "$WORK/big.csv" --no-header --out "$WORK/big.h5" > "$WORK/big.log" ||
        fail "big: $(cat "$WORK/big.log")"
    peak=$(sed -n 's/.*(peak memory \([0-9.]*\) MB).*/\1/p' "$WORK/big.log")
    echo "a ${mb} MB CSV converted with a peak of ${peak} MB"
    awk -v p="$peak" -v m="$mb" 'BEGIN { exit !(p > 0 && p < 64 && p < m / 2) }' ||
        fail "big: peak memory ${peak} MB for a ${mb} MB file (expected under 64 MB)"
    grep -q "500000 samples, 20 features, class labels 0 to 9" "$WORK/big.log" ||
        fail "big: $(cat "$WORK/big.log")"
fi
