# scripts/scaling-model against hand-computed steps: 784-512-256-10 (535,818 parameters, so
# n = 4 x (535,818 + 8) = 2,143,304 bytes), alpha 2 us, 1.25 GB/s (beta 0.8 ns/byte), 8 ranks,
# the sharded update (ring: 2 (p-1) alpha, plus the counters' 2 ceil(log2 p) alpha):
#  - float32 sums: 2 x 7/8 x n x beta + 20 alpha = 3.00062 + 0.040 = 3.04062 ms;
#  - --grad-precision bf16: 1.5 x 7/8 x n x beta + 20 alpha = 2.25047 + 0.040 = 2.29047 ms;
#  - bf16 with --update replicated is refused (nndist refuses it too).
source "$(dirname "$0")/lib.sh"

model() {
    "$SRC_DIR/scripts/scaling-model" --layers 784,512,256,10 --batch 1024 --compute-us 10 \
        --update-ms 0.3 --alpha 2e-6 --bandwidth 1.25 --ranks 1,8 --csv - "$@"
}
# allreduce_ms of the sharded row at 8 ranks
sum_ms() { awk -F, '$1 == "sharded" && $2 == 8 { print $6 }'; }
got=$(model --update sharded | sum_ms)
awk -v g="$got" 'BEGIN { exit !(g > 3.04061 && g < 3.04063) }' || fail "float32 sums: $got ms"
got=$(model --grad-precision bf16 | sum_ms)
awk -v g="$got" 'BEGIN { exit !(g > 2.29046 && g < 2.29048) }' || fail "bf16 sums: $got ms"
[ "$(model --grad-precision bf16 | grep -c '^replicated')" -eq 0 ] || fail "bf16 projected replicated"
if model --grad-precision bf16 --update replicated > "$WORK/err" 2>&1; then
    fail "bf16 with the replicated update was not refused"
fi
grep -q "needs the sharded update" "$WORK/err" || fail "refusal: $(cat "$WORK/err")"
echo "1 passed, 0 failed"
