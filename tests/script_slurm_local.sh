#!/usr/bin/env bash
# scripts/slurm/nndist.sbatch under a real SLURM started on this machine: the job is stopped by
# USR1 (trap -> exit 75 -> requeue) and by a hard `scontrol requeue`, and completes with weights
# bitwise equal to an uninterrupted run (scripts/slurm/local-cluster.sh; needs root, installs
# slurm-wlm and munge when missing, exits 77 = skipped when it cannot run here).
set -euo pipefail
: "${NNDIST:?set by ctest}" "${MAKE_DATASET:?set by ctest}" "${COMPARE_MODELS:?set by ctest}"
bash "$(dirname "$0")/../scripts/slurm/local-cluster.sh"
echo "1 passed, 0 failed"
