#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages nndist needs that are missing, and nothing else.
#   scripts/install-deps.sh [build|test|quickstart|bench|fuzz|slurm|plots]...   (default: build)
# Uses sudo when not root. apt-get runs only when something is missing.
set -euo pipefail

want=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev zlib1g-dev
      protobuf-c-compiler libprotobuf-c-dev)
for purpose in "${@:-build}"; do
    case "$purpose" in
    build) ;;
    test) want+=(libcmocka-dev python3-h5py python3-numpy python3-onnx gnuplot-nox procps iproute2) ;;
    quickstart) want+=(dataset-fashion-mnist gnuplot-nox) ;;
    fuzz) want+=(clang libclang-rt-14-dev libomp-14-dev) ;;
    bench) want+=(dataset-fashion-mnist python3-torch python3-h5py python3-numpy libopenblas-dev) ;;
    slurm) want+=(slurm-wlm munge) ;;
    plots) want+=(gnuplot-nox) ;;
    *) echo "install-deps: unknown purpose '$purpose' (build, test, quickstart, bench, fuzz, slurm, plots)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get > /dev/null; then
    echo "install-deps: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
