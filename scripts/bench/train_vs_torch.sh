#!/usr/bin/env bash
# Training throughput of nndist against PyTorch (Debian's python3-torch) on the same model, data,
# batch and threads: Fashion-MNIST, 784-512-256-10 ReLU, batch 128, SGD lr 0.1 (or --adam).
#   nndist: 1 rank x 1 thread, 1 x 2, 2 ranks x 1 thread  -- the whole process timed, start-up and
#           loading included: samples / wall seconds;
#   torch:  1 thread, 2 threads, DDP 2 processes x 1 thread -- its training loop only, with
#           OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS set (its best configuration).
# With --bf16, nndist trains with --precision bf16 and torch under bf16 autocast (oneDNN), and
# nndist 1 x 1 in float32 joins the rounds: the ratios then include bf16 against float32.
# ROUNDS rounds (default 3) run the configurations in turn, alternating; it prints each figure's
# median and the ratios the performance issue asks for. Usage:
#   scripts/bench/train_vs_torch.sh [--adam] [--bf16] [--epochs N] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
OPT=sgd LR=0.1 EPOCHS=2 ROUNDS=3 PREC=fp32
while [ $# -gt 0 ]; do
    case $1 in
    --adam) OPT=adam LR=0.001 ;;
    --bf16) PREC=bf16 ;;
    --epochs) EPOCHS=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    *) echo "usage: $0 [--adam] [--bf16] [--epochs N] [--rounds N]" >&2; exit 2 ;;
    esac
    shift
done
scripts/install-deps.sh build bench > /dev/null
scripts/build.sh
N=build/nndist DATA=datasets/fashion-mnist-train.h5
mkdir -p datasets
[ -f "$DATA" ] || "$N" convert idx --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --out "$DATA" > /dev/null
SAMPLES=$((60000 * EPOCHS))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nndist_rate() { # RANKS THREADS PRECISION -> samples/s of the whole process
    local ranks=$1 threads=$2 precision=$3 opts t0 t1
    if [ "$ranks" -eq 1 ]; then opts=(-np 1 --bind-to none); else opts=(-np "$ranks" --map-by "slot:PE=$threads"); fi
    t0=$EPOCHREALTIME
    mpirun "${opts[@]}" "$N" train --data "$DATA" --layers 784,512,256,10 --batch 128 \
        --optimizer "$OPT" --lr "$LR" --epochs "$EPOCHS" --threads "$threads" --no-progress \
        --precision "$precision" > "$tmp/nndist-$precision.log"
    t1=$EPOCHREALTIME
    awk -v s="$SAMPLES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", s / (b - a) }'
}
# Debian's OpenBLAS 0.3.21 does not recognise every newer CPU and then falls back to SSE3 kernels
# (a factor of 3-4 here): name the best core type this CPU supports, so that torch is measured in
# its best configuration. TORCH_OPENBLAS_CORETYPE overrides it (empty = OpenBLAS's own choice).
if [ -z "${TORCH_OPENBLAS_CORETYPE+set}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then TORCH_OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then TORCH_OPENBLAS_CORETYPE=Haswell
    else TORCH_OPENBLAS_CORETYPE=""; fi
fi
torch_rate() { # THREADS PROCESSES
    OPENBLAS_CORETYPE=$TORCH_OPENBLAS_CORETYPE \
    OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 /usr/bin/python3 \
        scripts/bench/torch_reference.py --data "$DATA" --threads "$1" --ddp "$2" \
        --epochs "$EPOCHS" --optimizer "$OPT" $([ "$PREC" = bf16 ] && echo --bf16) | awk '{print $3}'
}

configs=("nndist 1 1" "torch 1 1" "nndist 1 2" "torch 2 1" "nndist 2 1" "torch 1 2")
[ "$PREC" = bf16 ] && configs+=("nndist-fp32 1 1")
declare -A results
for round in $(seq "$ROUNDS"); do
    for cfg in "${configs[@]}"; do
        read -r who a b <<< "$cfg"
        case $who in
        nndist) rate=$(nndist_rate "$a" "$b" "$PREC") ;;
        nndist-fp32) rate=$(nndist_rate "$a" "$b" fp32) ;;
        *) rate=$(torch_rate "$a" "$b") ;;
        esac
        results["$cfg"]+="$rate "
        echo "round $round: $cfg -> $rate samples/s" >&2
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
for cfg in "${configs[@]}"; do med["$cfg"]=$(echo "${results[$cfg]}" | median); done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "model 784-512-256-10 ReLU, batch 128, $OPT, $EPOCHS epoch(s) of Fashion-MNIST, median of $ROUNDS"
echo "precision $PREC (torch: $([ "$PREC" = bf16 ] && echo "bf16 autocast" || echo float32))"
echo "nndist $(grep -o 'GEMM kernel [a-z0-9-]*' "$tmp/nndist-$PREC.log" | head -n 1)$(
    grep -o 'accumulation ([a-z0-9-]*)' "$tmp/nndist-$PREC.log" | sed 's/accumulation (\(.*\))/, bf16 family \1/'), torch OpenBLAS core type: ${TORCH_OPENBLAS_CORETYPE:-OpenBLAS default}"
printf '%-34s %12s   %s\n' configuration "samples/s" "all rounds"
for cfg in "${configs[@]}"; do
    read -r who a b <<< "$cfg"
    if [ "$who" = nndist ]; then label="nndist $a rank(s) x $b thread(s)"
    elif [ "$who" = nndist-fp32 ]; then label="nndist float32 $a x $b"
    elif [ "$b" -gt 1 ]; then label="torch DDP $b processes x $a thread"
    else label="torch $a thread(s)"; fi
    printf '%-34s %12s   %s\n' "$label" "${med[$cfg]}" "${results[$cfg]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
best2=${med["torch 2 1"]}
[ "${med["torch 1 2"]}" -gt "$best2" ] && best2=${med["torch 1 2"]}
echo "nndist 1x1 / torch 1 thread:              $(ratio "${med["nndist 1 1"]}" "${med["torch 1 1"]}")"
echo "nndist 2x1 / torch best of 2 threads, DDP: $(ratio "${med["nndist 2 1"]}" "$best2")"
echo "nndist 1x2 / torch 2 threads:             $(ratio "${med["nndist 1 2"]}" "${med["torch 2 1"]}")"
echo "nndist 2x1 / nndist 1x1:                  $(ratio "${med["nndist 2 1"]}" "${med["nndist 1 1"]}")"
if [ "$PREC" = bf16 ]; then
    echo "nndist bf16 1x1 / nndist float32 1x1:     $(ratio "${med["nndist 1 1"]}" "${med["nndist-fp32 1 1"]}")"
fi
grep 'peak memory' "$tmp/nndist-$PREC.log" || true
