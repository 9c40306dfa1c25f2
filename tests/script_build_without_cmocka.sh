# The first run's configure-and-build step (scripts/build.sh, which quickstart.sh runs) succeeds
# where cmocka cannot be found, builds nndist, and says in one line how to get the tests.
source "$(dirname "$0")/lib.sh"
: "${SRC_DIR:?set by ctest}"
mkdir "$WORK/no-pkgconfig"
PKG_CONFIG_LIBDIR="$WORK/no-pkgconfig" PKG_CONFIG_PATH="" NNDIST_BUILD_DIR="$WORK/build" \
    "$SRC_DIR/scripts/build.sh" > "$WORK/out.txt" 2>&1 ||
    fail "build.sh without cmocka failed: $(tail -n 30 "$WORK/out.txt")"
[ -x "$WORK/build/nndist" ] || fail "no nndist binary in $WORK/build"
[ ! -e "$WORK/build/tests/test_ckpt" ] || fail "the cmocka tests were built although cmocka was hidden"
[ "$(grep -c 'cmocka not found' "$WORK/out.txt")" -eq 1 ] ||
    fail "expected one line saying cmocka was not found: $(cat "$WORK/out.txt")"
grep -q 'scripts/test.sh' "$WORK/out.txt" || fail "the line does not say how to get the tests"
"$WORK/build/nndist" --version > /dev/null || fail "the binary built without cmocka does not run"
echo "1 passed, 0 failed"
