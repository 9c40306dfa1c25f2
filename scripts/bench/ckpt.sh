#!/usr/bin/env bash
# Builds ckpt_bench if needed and times a checkpoint of sharded optimizer state (each rank holds
# one shard of every tensor) written four ways, each to a temporary file, fsync'ed and renamed:
#   (a)  MPI_Gatherv to rank 0, which writes the file with serial HDF5;
#   (a') the same gather, then the file built in memory and written as src/ckpt.c did (2026-12-05);
#   (b)  parallel HDF5, every rank writing its hyperslab, collective transfers;
#   (c)  parallel HDF5, independent transfers.
#
#   scripts/bench/ckpt.sh [ckpt_bench options: --tensors T --iters K --warmup W --dir DIR
#                          --modes gather,image,coll,indep]
#   RANKS="2 4" PARAMS=5.8e6 FAKE_NODES=0 scripts/bench/ckpt.sh --iters 9
#
# RANKS (default "2 4 8"): rank counts on this machine, placed by scripts/mpi-env.sh (a core each
#   while there are enough, then --oversubscribe --bind-to none).
# FAKE_NODES (default 1): also run 2 emulated nodes x 1 rank (scripts/mpirun-fake-nodes; needs
#   root, skipped otherwise).
# PARAMS (default "535818 5.8e6 50e6"): floats per tensor (3 tensors: 6.4, 70 and 600 MB).
# BIG_ITERS (default 3): the --iters of counts of 1e7 and more; options given here win.
# BUILD_DIR (default: build) is configured as a Release build when it has no CMakeCache.txt.
#
# Prints the CPU and the filesystem the files go to (df -T), then per layout and count
# ckpt_bench's table: median, min and max seconds of the whole save as the slowest rank sees it,
# MB/s, the ratio to (a), and rank 0's time in the gathers alone; every file is read back and
# checked. Keep other work off the machine while it runs: the figures are wall times.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/scripts/mpi-env.sh"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RANKS=${RANKS:-2 4 8}
PARAMS=${PARAMS:-535818 5.8e6 50e6}
FAKE_NODES=${FAKE_NODES:-1}
BIG_ITERS=${BIG_ITERS:-3}

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" --target ckpt_bench -j "$(nproc)" >/dev/null
BENCH=$BUILD_DIR/scripts/bench/ckpt_bench

dir=${TMPDIR:-/tmp}
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    if [[ ${args[i]} == --dir ]]; then dir=${args[i + 1]}; fi
done
echo "cpu: $(nproc) x $(lscpu | sed -n 's/^Model name: *//p')"
echo "filesystem of $dir: $(df -T "$dir" | awk 'NR == 2 {print $1, $2}')"

for n in $PARAMS; do
    extra=()
    if awk -v n="$n" 'BEGIN { exit !(n + 0 >= 1e7) }'; then extra=(--iters "$BIG_ITERS"); fi
    for p in $RANKS; do
        mpi_opts "$p"
        echo
        echo "== $p ranks on this machine (${MPIRUN_OPTS[*]}), --params $n"
        mpirun "${MPIRUN_OPTS[@]}" "$BENCH" --params "$n" "${extra[@]}" "$@"
    done
    if [[ $FAKE_NODES == 1 ]]; then
        echo
        echo "== 2 emulated nodes x 1 rank (scripts/mpirun-fake-nodes), --params $n"
        rc=0
        "$ROOT/scripts/mpirun-fake-nodes" 2 1 "$BENCH" --params "$n" "${extra[@]}" "$@" || rc=$?
        if ((rc == 77)); then
            echo "(skipped: emulated nodes need root)"
        elif ((rc != 0)); then
            exit "$rc"
        fi
    fi
done
