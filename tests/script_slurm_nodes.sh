#!/usr/bin/env bash
# scripts/slurm/nndist.sbatch under a real 2-node SLURM started on this machine (two slurmd, each
# a fake host in its own UTS namespace): `sbatch -N 2` trains one rank per node; USR1 makes it
# checkpoint and requeue; the second node's slurmd is killed and the node set DOWN; the pending
# job is shrunk to the node left, resumes the 2-rank checkpoint on 1 rank, completes, and its
# model equals an uninterrupted run to 1e-5 (scripts/slurm/local-cluster.sh --scenario
# node-failure). Needs root and `unshare --uts`; installs slurm-wlm and munge when missing;
# exits 77 = skipped when it cannot run here.
set -euo pipefail
: "${NNDIST:?set by ctest}" "${MAKE_DATASET:?set by ctest}" "${COMPARE_MODELS:?set by ctest}"
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root: munged, slurmctld and two slurmd (in UTS namespaces) run as root" >&2
    exit 77
fi
if ! command -v unshare > /dev/null || ! unshare --uts true 2> /dev/null; then
    echo "SKIP: 'unshare --uts' is unavailable: the fake hosts need a UTS namespace each" >&2
    exit 77
fi
# Well under ctest's timeout, so that local-cluster.sh fails with its logs and cleans up first.
export LOCAL_CLUSTER_TIMEOUT=${LOCAL_CLUSTER_TIMEOUT:-150}
bash "$(dirname "$0")/../scripts/slurm/local-cluster.sh" --nodes 2 --scenario node-failure
echo "1 passed, 0 failed"
