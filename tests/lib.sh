# Shared by the script tests: run nndist under mpirun, fail with a message, temp dirs.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Keep every rank single-threaded: tests check results, not speed, and run oversubscribed.
export OMP_NUM_THREADS=1
: "${NNDIST:?set by ctest}" "${MPIEXEC:=mpirun}"

WORK=$(mktemp -d /tmp/nndist-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# run NP ARGS...: nndist under mpirun with NP ranks (a 120 s bound turns a hang into a failure).
run() {
    local np=$1; shift
    timeout -k 5 120 "$MPIEXEC" -np "$np" --oversubscribe --bind-to none "$NNDIST" "$@"
}
