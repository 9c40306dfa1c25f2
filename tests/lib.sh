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

# until_exists GLOB [SECONDS]: wait (default 30 s) for a file matching GLOB; 1 on a timeout.
until_exists() {
    local tenths=$((${2:-30} * 10))
    for _ in $(seq "$tenths"); do compgen -G "$1" > /dev/null && return 0; sleep 0.1; done
    compgen -G "$1" > /dev/null
}

# run NP ARGS...: nndist under mpirun with NP ranks (a 120 s bound turns a hang into a failure).
run() {
    local np=$1; shift
    timeout -k 5 120 "$MPIEXEC" -np "$np" --oversubscribe --bind-to none "$NNDIST" "$@"
}

# interrupted_run_fixture: for the tests that stop a run and resume it: the dataset, the command
# line in `common` (600 steps, a checkpoint every 100) and the uninterrupted run's model
# $WORK/full.h5 that every resumed run must equal bitwise.
interrupted_run_fixture() {
    "$MAKE_DATASET" "$WORK/train.h5" 3000 40 5 3
    common=(train --data "$WORK/train.h5" --layers 40,64,32,5 --batch 30 --lr 0.05
            --optimizer momentum --steps 600 --checkpoint-every 100 --no-progress)
    run 2 "${common[@]}" --checkpoint-dir "$WORK/full" --save "$WORK/full.h5" > /dev/null ||
        fail "uninterrupted run failed"
}
