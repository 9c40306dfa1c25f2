#!/usr/bin/env bash
# Strong and weak scaling of `nndist train`: runs one training per (mode, threads, ranks),
# reads nndist's metrics CSV and log of each, and writes a CSV, a Markdown table and PNG plots.
#
#   scripts/scaling.sh --ranks 1,2,4,8 --threads 1 --data train.h5 --layers 784,512,256,10 --out DIR
#   scripts/scaling.sh --hostfile hosts --ranks 8,16,32 ...            (on the hosts of a hostfile)
#   sudo scripts/scaling.sh --fake-nodes 2 --ranks 2,4 --checkpoint-every 20 ...   (emulated nodes)
#
# Where the ranks run:
#   - inside a SLURM allocation (salloc -N 2 --ntasks-per-node=32, or in a batch script) mpirun
#     places them on the allocated nodes, filling each node's slots in turn;
#   - --hostfile FILE: mpirun --hostfile FILE --map-by ppr:K:node:PE=<threads>, K = ceil(ranks /
#     hosts): the ranks spread evenly over min(ranks, hosts) hosts of FILE, consecutive ranks on
#     the same host, each rank bound to <threads> cores (give the hosts slots=K or more);
#   - --fake-nodes N: scripts/mpirun-fake-nodes N ranks/N: N emulated nodes on this machine,
#     each its own hostname and Open MPI daemon, TCP between them (needs root and unshare --uts,
#     and no SLURM allocation); ranks/N on each node, so a rank count that N does not divide is
#     refused before anything runs. They share this machine's cores (the ranks run unbound and
#     yield when idle): the figures check the cross-node paths and are not a cluster's;
#   - otherwise on this machine.
# Before each run `hostname` is launched the same way, to count the nodes the ranks are on.
#
# options:
#   --ranks LIST          rank counts, e.g. 1,2,4,8,16 (default 1,2,4)
#   --threads LIST        OpenMP threads per rank, e.g. 1,4 (default 1)
#   --data FILE           training set (HDF5); required
#   --layers N0,...,NL    the model; required
#   --mode strong|weak|both                       (default both)
#   --batch N             strong scaling: the fixed global batch (default 1024)
#   --batch-per-rank N    weak scaling: the fixed batch per rank (default 128)
#   --epochs N            epochs per run (default 3); the first is a warm-up and is not counted
#                         when there are two or more
#   --checkpoint-every N  write a checkpoint every N steps (into DIR/runs/<run>.ckpt, removed
#                         after the run) and report its time; default 0: none (nndist counts no
#                         checkpoint I/O then)
#   --hostfile FILE       place the ranks on FILE's hosts (above)
#   --fake-nodes N        place the ranks on N emulated nodes (above)
#   --out DIR             results (default runs/scaling-<date>)
#   --nndist PATH         the binary (default $NNDIST, else build/nndist, else nndist on PATH)
#   --mpirun-args "ARGS"  placement flags for every run, instead of the default: --map-by
#                         slot:PE=<threads> when the ranks x threads fit on this machine's cores
#                         or inside a SLURM allocation, else --oversubscribe --bind-to none; with
#                         --hostfile the ppr mapping above; with --fake-nodes none (the emulated
#                         nodes run unbound, may oversubscribe, and yield when idle: --mca
#                         mpi_yield_when_idle 1), ARGS are added
#   --report-only         rebuild the CSV, table and plots from DIR/runs.tsv, the metrics and logs
#   -- ARGS               everything after -- goes to `nndist train` (e.g. -- --optimizer adam)
#
# What it writes into DIR:
#   scaling.csv      one row per run: mode, ranks, threads, cores, nodes, the update path
#                    (replicated, sharded (shm), sharded (reduce-scatter), from the start-up
#                    line), batches, placement, whether oversubscribed, samples/s, the time of
#                    one step split into compute / allreduce / update / I/O (checkpoints) /
#                    other (ms, means over the counted epochs), the checkpoints written in the
#                    counted epochs and the time of one, the peak memory per rank (MB, the
#                    largest rank's, from the log), speedup and efficiency
#   scaling.md       the same as Markdown tables, one per mode
#   throughput.png   samples/s against ranks, with the ideal (linear) line of each series
#   efficiency.png   parallel efficiency against ranks
#   breakdown.png    the time of one step of every run, stacked by phase
#   memory.png       peak memory per rank against ranks
#   runs/            each run's metrics CSV, log and hosts; runs.tsv lists them
#
# Speedup = throughput / throughput of the smallest rank count of the same mode and threads;
# efficiency = speedup x (smallest rank count / ranks). Strong scaling keeps the global batch,
# so every step does the same work split over more ranks: the ideal is linear speedup, and the
# compute part of a step shrinks while the allreduce does not. Weak scaling keeps the batch per
# rank: a step does the same work per rank and the ideal is a constant step time.
# The dataset must give every run several steps per epoch: N >= 5 x the largest global batch.
# Plots need gnuplot (scripts/install-deps.sh plots); without it the CSV and table are written.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ranks_list=1,2,4
threads_list=1
data=
layers=
mode=both
batch=1024
batch_per_rank=128
epochs=3
ckpt_every=0
hostfile=
fake_nodes=0
out=
nndist=${NNDIST:-}
mpirun_args=
mpirun_args_set=0
report_only=0
extra=()

die() { echo "scaling.sh: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case $1 in
    --ranks) need "$@"; ranks_list=$2; shift 2 ;;
    --threads) need "$@"; threads_list=$2; shift 2 ;;
    --data) need "$@"; data=$2; shift 2 ;;
    --layers) need "$@"; layers=$2; shift 2 ;;
    --mode) need "$@"; mode=$2; shift 2 ;;
    --batch) need "$@"; batch=$2; shift 2 ;;
    --batch-per-rank) need "$@"; batch_per_rank=$2; shift 2 ;;
    --epochs) need "$@"; epochs=$2; shift 2 ;;
    --checkpoint-every) need "$@"; ckpt_every=$2; shift 2 ;;
    --hostfile) need "$@"; hostfile=$2; shift 2 ;;
    --fake-nodes) need "$@"; fake_nodes=$2; shift 2 ;;
    --out) need "$@"; out=$2; shift 2 ;;
    --nndist) need "$@"; nndist=$2; shift 2 ;;
    --mpirun-args) need "$@"; mpirun_args=$2; mpirun_args_set=1; shift 2 ;;
    --report-only) report_only=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
is_list() { [[ $1 =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; }
is_list "$ranks_list" || die "--ranks: '$ranks_list' is not a comma-separated list of positive integers"
is_list "$threads_list" || die "--threads: '$threads_list' is not a comma-separated list of positive integers"
for v in "$batch" "$batch_per_rank" "$epochs"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "'$v' is not a positive integer (--batch, --batch-per-rank, --epochs)"
done
[[ $ckpt_every =~ ^[0-9]+$ ]] || die "--checkpoint-every: '$ckpt_every' is not a number of steps"
[[ $fake_nodes =~ ^[0-9]+$ ]] || die "--fake-nodes: '$fake_nodes' is not a number of nodes"
case $mode in
strong) modes=(strong) ;;
weak) modes=(weak) ;;
both) modes=(strong weak) ;;
*) die "--mode: '$mode'; expected strong, weak or both" ;;
esac
[ -n "$out" ] || out=runs/scaling-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out/runs"
out=$(cd "$out" && pwd)
index=$out/runs.tsv

if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

# launch P PROGRAM ARGS...: PROGRAM on P ranks, placed as this experiment places them (place_arr:
# this run's placement flags).
launch() {
    local p=$1
    shift
    if [ "$fake_nodes" -gt 0 ]; then
        "$repo/scripts/mpirun-fake-nodes" "$fake_nodes" $((p / fake_nodes)) -x OMP_NUM_THREADS \
            ${place_arr[@]+"${place_arr[@]}"} -- "$@"
    elif [ -n "$hostfile" ]; then
        mpirun --hostfile "$hostfile" -np "$p" ${place_arr[@]+"${place_arr[@]}"} -x OMP_NUM_THREADS "$@"
    else
        mpirun -np "$p" ${place_arr[@]+"${place_arr[@]}"} -x OMP_NUM_THREADS "$@"
    fi
}

# ---- the runs
if [ $report_only = 0 ]; then
    [ -n "$data" ] || die "--data FILE is required"
    [ -n "$layers" ] || die "--layers is required"
    [ -r "$data" ] || die "--data: cannot read '$data'"
    if [ -z "$nndist" ]; then
        if [ -x "$repo/build/nndist" ]; then nndist=$repo/build/nndist; else nndist=$(command -v nndist || true); fi
    fi
    [ -x "${nndist:-/nonexistent}" ] || die "no nndist binary (build it, or give --nndist PATH)"
    for a in ${extra[@]+"${extra[@]}"}; do
        case $a in
        --checkpoint-dir* | --checkpoint-every* | --resume*)
            die "'$a' after --: give scaling.sh --checkpoint-every N instead (each run gets its own directory)" ;;
        esac
    done
    cores=$(nproc)
    IFS=, read -r -a ranks_arr <<< "$ranks_list"
    IFS=, read -r -a threads_arr <<< "$threads_list"
    [ -z "$hostfile" ] || [ "$fake_nodes" = 0 ] || die "--hostfile and --fake-nodes: give one of them"
    if [ "$fake_nodes" -gt 0 ]; then
        [ -z "${SLURM_JOB_ID:-}" ] ||
            die "--fake-nodes emulates nodes on this machine: not inside a SLURM allocation (SLURM_JOB_ID=$SLURM_JOB_ID), where mpirun would place the ranks on the allocation's nodes"
        for p in "${ranks_arr[@]}"; do
            [ $((p % fake_nodes)) = 0 ] ||
                die "--fake-nodes $fake_nodes: a rank count of $p cannot be split evenly over $fake_nodes nodes; give rank counts that are multiples of $fake_nodes"
        done
        if [ "$(id -u)" -ne 0 ] || ! command -v unshare > /dev/null || ! unshare --uts true 2> /dev/null; then
            die "--fake-nodes needs root and 'unshare --uts' (each emulated node is a UTS namespace)"
        fi
        where="$fake_nodes emulated nodes (scripts/mpirun-fake-nodes) sharing this machine's $cores cores: functional figures, not a cluster's"
    elif [ -n "$hostfile" ]; then
        [ -r "$hostfile" ] || die "--hostfile: cannot read '$hostfile'"
        hostfile=$(cd "$(dirname "$hostfile")" && pwd)/$(basename "$hostfile")
        nhosts=$(awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$hostfile" | sort -u | wc -l)
        [ "$nhosts" -ge 1 ] || die "--hostfile: no hosts in '$hostfile'"
        where="the $nhosts host(s) of $hostfile"
    elif [ -n "${SLURM_JOB_ID:-}" ]; then
        where="SLURM job $SLURM_JOB_ID on ${SLURM_JOB_NODELIST:-?}"
    else
        where="this machine"
    fi
    {
        echo "# scaling.sh on $(hostname -s), $cores cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "# $nndist --data $data --layers $layers --epochs $epochs ${extra[*]}"
        echo "# ranks on $where"
        [ "$ckpt_every" = 0 ] || echo "# a checkpoint every $ckpt_every steps"
        printf 'mode\tranks\tthreads\tglobal_batch\tbatch_per_rank\tplacement\tmetrics\tnodes\toversubscribed\tcheckpoint_every\n'
    } > "$index"
    for m in "${modes[@]}"; do
        for t in "${threads_arr[@]}"; do
            for p in "${ranks_arr[@]}"; do
                over=0
                if [ "$fake_nodes" -gt 0 ]; then
                    place=$mpirun_args
                    [ $((p * t)) -le "$cores" ] || over=1
                    # The emulated nodes share this machine's cores with each other and with the
                    # kernel's TCP over loopback, which carries their messages; Open MPI sees
                    # each node's ranks fit its slots and lets a waiting rank spin. Yielding
                    # instead, measured here on 2 cores: 2 nodes x 1 rank 40,000-55,000
                    # samples/s instead of 21,000-30,000, 2 x 2 ranks 10-100 times faster.
                    if [[ $place != *yield_when_idle* ]]; then
                        place="--mca mpi_yield_when_idle 1 $place"
                    fi
                    desc="fake-nodes ${fake_nodes}x$((p / fake_nodes)) --bind-to none --oversubscribe $place"
                else
                    if [ $mpirun_args_set = 1 ]; then
                        place=$mpirun_args
                    elif [ -n "$hostfile" ]; then
                        n=$((p < nhosts ? p : nhosts))
                        place="--map-by ppr:$(((p + n - 1) / n)):node:PE=$t"
                    elif [ -n "${SLURM_JOB_ID:-}" ] || [ $((p * t)) -le "$cores" ]; then
                        place="--map-by slot:PE=$t"
                    else
                        place="--oversubscribe --bind-to none"
                    fi
                    desc=$place
                    [ -z "$hostfile" ] || desc="--hostfile $(basename "$hostfile") $desc"
                    case $place in *oversubscribe*) over=1 ;; esac
                fi
                read -r -a place_arr <<< "$place"
                desc=$(echo "$desc" | tr -s ' ' | sed 's/ $//; s/,/;/g')   # the CSV's field separator
                if [ "$m" = strong ]; then
                    bflag=(--batch "$batch"); gb=$batch; bpr=$((batch / p))
                else
                    bflag=(--batch-per-rank "$batch_per_rank"); gb=$((batch_per_rank * p)); bpr=$batch_per_rank
                fi
                name=$m-p$p-t$t
                rm -f "$out/runs/$name.csv"
                ckflag=()
                if [ "$ckpt_every" -gt 0 ]; then
                    rm -rf "$out/runs/$name.ckpt"
                    ckflag=(--checkpoint-dir "$out/runs/$name.ckpt" --checkpoint-every "$ckpt_every")
                fi
                echo "scaling.sh: $name: $desc ... --threads $t ${bflag[*]}"
                if ! OMP_NUM_THREADS=$t launch "$p" hostname > "$out/runs/$name.hosts" 2>&1; then
                    cat "$out/runs/$name.hosts" >&2
                    echo "scaling.sh: cannot launch $p ranks ($desc): see above" >&2
                    exit 1
                fi
                nodes=$(sort -u "$out/runs/$name.hosts" | wc -l)
                if ! OMP_NUM_THREADS=$t launch "$p" \
                    "$nndist" train --data "$data" --layers "$layers" "${bflag[@]}" \
                    --epochs "$epochs" --threads "$t" --no-progress ${ckflag[@]+"${ckflag[@]}"} \
                    --metrics "$out/runs/$name.csv" ${extra[@]+"${extra[@]}"} > "$out/runs/$name.log" 2>&1; then
                    tail -n 20 "$out/runs/$name.log" >&2
                    echo "scaling.sh: run $name failed (log: $out/runs/$name.log)" >&2
                    exit 1
                fi
                [ "$ckpt_every" = 0 ] || rm -rf "$out/runs/$name.ckpt"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$p" "$t" "$gb" "$bpr" "$desc" \
                    "runs/$name.csv" "$nodes" "$over" "$ckpt_every" >> "$index"
            done
        done
    done
fi
[ -f "$index" ] || die "no $index: nothing to report"

# ---- the CSV: one row per run, the counted epochs summed (first epoch left out when >= 2).
csv=$out/scaling.csv
cols=mode,ranks,threads,cores,nodes,update_path,global_batch,batch_per_rank,placement,oversubscribed
cols=$cols,epochs_counted,steps_counted,samples_per_s,step_ms,compute_ms,allreduce_ms,update_ms,io_ms
cols=$cols,other_ms,checkpoints,ckpt_ms,peak_mem_mb
echo "$cols,speedup,efficiency" > "$csv"
# runs.tsv of an older scaling.sh has no nodes, oversubscribed and checkpoint_every: left empty,
# taken from the placement and 0.
grep -v '^#' "$index" | tail -n +2 | while IFS=$'\t' read -r m p t gb bpr place metrics nodes over ckev; do
    [ -n "$over" ] || case $place in *oversubscribe*) over=1 ;; *) over=0 ;; esac
    # From the run's log: the peak memory line and the update path of the start-up line.
    log=$out/${metrics%.csv}.log
    mem='' path=''
    if [ -f "$log" ]; then
        mem=$(sed -n 's/^peak memory: \([0-9.]*\) MB per rank.*/\1/p' "$log" | tail -n 1)
        case $(grep -E -m 1 '^nndist: [0-9]+ samples' "$log" || true) in
        '') ;;
        *'update sharded'*'node-shared'*) path="sharded (shm)" ;;
        *'update sharded'*'reduce-scatter'*) path="sharded (reduce-scatter)" ;;
        *'update sharded'*) path=sharded ;;
        *) path=replicated ;;
        esac
    fi
    [ -n "$mem" ] || echo "scaling.sh: warning: no 'peak memory' line in $log" >&2
    awk -F, -v m="$m" -v p="$p" -v t="$t" -v gb="$gb" -v bpr="$bpr" -v place="$place" \
        -v nodes="$nodes" -v over="$over" -v ckev="${ckev:-0}" -v path="$path" -v mem="$mem" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { n++; step[n] = $col["step"]; samples[n] = $col["samples"]; sps[n] = $col["samples_per_s"]
          c[n] = $col["compute_s"]; a[n] = $col["allreduce_s"]; u[n] = $col["update_s"]; io[n] = $col["io_s"] }
        END {
            if (n == 0) { print "scaling.sh: no rows in " FILENAME > "/dev/stderr"; exit 1 }
            first = n >= 2 ? 2 : 1
            for (i = first; i <= n; i++) {
                steps += step[i] - (i > 1 ? step[i - 1] : 0)
                smp += samples[i]; wall += samples[i] / sps[i]
                tc += c[i]; ta += a[i]; tu += u[i]; tio += io[i]
            }
            if (steps < 5 * (n - first + 1))
                printf "scaling.sh: warning: %s at %d ranks: %d steps in %d epoch(s); use more data or a smaller batch\n",
                       m, p, steps, n - first + 1 > "/dev/stderr"
            # nndist checkpoints at the multiples of --checkpoint-every below the last step (that
            # one is written after the last metrics row and not counted in io_s).
            lo = first > 1 ? step[first - 1] : 0; last = step[n]; ck = 0
            if (ckev > 0)
                for (k = int(lo / ckev) + 1; k * ckev < last; k++) ck++
            if (ckev > 0 && ck == 0)
                printf "scaling.sh: warning: %s at %d ranks: no checkpoint in the counted steps %d-%d; lower --checkpoint-every\n",
                       m, p, lo + 1, last > "/dev/stderr"
            ms = 1000 / steps; other = wall - tc - ta - tu - tio; if (other < 0) other = 0
            printf "%s,%d,%d,%d,%s,%s,%d,%d,%s,%d,%d,%d,%.1f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%s,%s\n",
                m, p, t, p * t, nodes, path, gb, bpr, place, over, n - first + 1, steps, smp / wall,
                wall * ms, tc * ms, ta * ms, tu * ms, tio * ms, other * ms, ck,
                (ck > 0 ? sprintf("%.3f", tio * 1000 / ck) : ""), mem
        }' "$out/$metrics"
done > "$csv.rows"
# Speedup and efficiency against the smallest rank count of the same mode and threads.
awk -F, -v OFS=, -v cols="$cols" '
    BEGIN { nc = split(cols, name, ","); for (i = 1; i <= nc; i++) col[name[i]] = i }
    { row[NR] = $0; key[NR] = $col["mode"] "/" $col["threads"]; r[NR] = $col["ranks"]
      x[NR] = $col["samples_per_s"]
      if (!(key[NR] in base) || r[NR] < base[key[NR]]) { base[key[NR]] = r[NR]; bx[key[NR]] = x[NR] } }
    END { for (i = 1; i <= NR; i++) {
            s = x[i] / bx[key[i]]
            printf "%s,%.3f,%.3f\n", row[i], s, s * base[key[i]] / r[i] } }' "$csv.rows" >> "$csv"
rm -f "$csv.rows"

# ---- the Markdown table
md=$out/scaling.md
{
    echo "# Scaling of nndist train"
    echo
    grep '^#' "$index" | sed 's/^# /    /'
    echo
    echo "Measured: samples/s and the time of one step (ms; compute = forward + backward on rank"
    echo "0, allreduce = the gradient sum including waiting for the slowest rank, update = the"
    echo "optimizer, ckpt I/O = checkpoints, other = the rest of the epoch's wall time), over the"
    echo "epochs counted; one ckpt = the time of one checkpoint (n: how many in the counted epochs);"
    echo "peak MB = the peak resident memory of the largest rank; update path = how the gradient is"
    echo "summed and the update applied (replicated: allreduce, every rank updates all the weights;"
    echo "sharded: each rank updates 1/P, in node-shared memory or by reduce-scatter + allgather)."
    echo "Speedup and efficiency are against the smallest rank count of the same mode and threads."
    echo "Runs marked * had more ranks x threads than cores (oversubscribed): their times say"
    echo "nothing about a real cluster."
    for m in strong weak; do
        grep -q "^$m," "$csv" || continue
        echo
        if [ "$m" = strong ]; then
            echo "## Strong scaling (fixed global batch; ideal: speedup = ranks / base ranks)"
        else
            echo "## Weak scaling (fixed batch per rank; ideal: constant step time, efficiency 1)"
        fi
        echo
        echo "| ranks | nodes | threads | update path | global batch | batch/rank | samples/s | step ms | compute | allreduce | update | ckpt I/O | other | one ckpt ms (n) | peak MB/rank | speedup | efficiency |"
        echo "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F, -v m="$m" '
            NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            $c["mode"] == m {
                star = $c["oversubscribed"] == 1 ? "*" : ""
                ck = $c["ckpt_ms"] == "" ? "–" : sprintf("%.3f (%d)", $c["ckpt_ms"], $c["checkpoints"])
                printf "| %d%s | %s | %d | %s | %d | %d | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s | %.2f | %.2f |\n",
                       $c["ranks"], star, ($c["nodes"] == "" ? "?" : $c["nodes"]), $c["threads"],
                       ($c["update_path"] == "" ? "?" : $c["update_path"]), $c["global_batch"],
                       $c["batch_per_rank"], $c["samples_per_s"], $c["step_ms"], $c["compute_ms"],
                       $c["allreduce_ms"], $c["update_ms"], $c["io_ms"], $c["other_ms"], ck,
                       ($c["peak_mem_mb"] == "" ? "?" : sprintf("%.1f", $c["peak_mem_mb"])),
                       $c["speedup"], $c["efficiency"] }' "$csv"
    done
} > "$md"

# ---- plots
if ! command -v gnuplot > /dev/null; then
    echo "scaling.sh: no gnuplot (scripts/install-deps.sh plots): wrote $csv and $md only" >&2
    exit 0
fi
# One data file per series (mode, threads) for the line plots; one row per run for the bars.
# They stay in DIR/plotdata with plots.gp, so `gnuplot DIR/plots.gp` redraws the plots.
pd=$out/plotdata
rm -rf "$pd"
mkdir -p "$pd"
# Columns by name: mode ranks threads nodes oversubscribed samples/s efficiency step_ms, the
# phases, peak memory.
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { print $c["mode"], $c["ranks"], $c["threads"], $c["nodes"], $c["oversubscribed"],
            $c["samples_per_s"], $c["efficiency"], $c["step_ms"], $c["compute_ms"],
            $c["allreduce_ms"], $c["update_ms"], $c["io_ms"], $c["other_ms"],
            ($c["peak_mem_mb"] == "" ? "NaN" : $c["peak_mem_mb"]) }' "$csv" > "$pd/runs.csv"
series=()
while IFS=, read -r m t; do
    f=$pd/$m-t$t.dat
    # ranks samples/s efficiency step_ms peak_mem_mb
    awk -F, -v m="$m" -v t="$t" '$1 == m && $3 == t { print $2, $6, $7, $8, $14 }' "$pd/runs.csv" |
        sort -n > "$f"
    series+=("$m-t$t")
done < <(cut -d, -f1,3 "$pd/runs.csv" | sort -u)
for m in strong weak; do
    # "ranks x threads[*][/nodes n]" compute allreduce update ckpt-I/O other
    awk -F, -v m="$m" '$1 == m { printf "\"%dx%d%s%s\" %s %s %s %s %s\n", $2, $3,
        ($5 == 1 ? "*" : ""), ($4 > 1 ? "/" $4 "n" : ""), $9, $10, $11, $12, $13 }' "$pd/runs.csv" > "$pd/bars-$m.dat"
done
xtics=$(cut -d, -f2 "$pd/runs.csv" | sort -nu | paste -sd, -)
# Under each title, in small type: "vm, 2 cores, 2026-...", the first line of runs.tsv; where
# the ranks ran; what * means. (Quotes, _ and ^ escaped for gnuplot's enhanced text.)
notes=("$(sed -n '1s/^# scaling.sh on //p' "$index")")
ranks_on=$(sed -n 's/^# ranks on //p' "$index")
[ -z "$ranks_on" ] || notes+=("ranks on $ranks_on")
if awk -F, '$5 == 1 { found = 1 } END { exit !found }' "$pd/runs.csv"; then
    notes+=("* = more ranks x threads than cores")
fi
note=
for l in "${notes[@]}"; do
    l=${l//\"/\'}; l=${l//_/\\\\_}; l=${l//^/\\\\^}
    note="$note\\n{/*0.85 $l}"
done
colors=("#1f77b4" "#d62728" "#2ca02c" "#ff7f0e" "#9467bd" "#8c564b" "#e377c2" "#17becf")
# series_lines COLUMN: one gnuplot line per series of COLUMN of its .dat file, comma separated.
series_lines() {
    local i=0 s
    for s in "${series[@]}"; do
        [ "$i" = 0 ] || printf ', '
        printf '"%s" using 1:%s with linespoints lw 2 pt 7 ps 1.2 lc rgb "%s" title "%s"' \
            "$pd/$s.dat" "$1" "${colors[i % ${#colors[@]}]}" \
            "${s%-t*} scaling, ${s##*-t} thread(s)/rank"
        i=$((i + 1))
    done
}

{
    echo 'set terminal pngcairo size 960,620 font "DejaVu Sans,11"'
    echo "set grid; set key top left box opaque; set logscale x 2; set xtics ($xtics)"
    echo 'set xlabel "MPI ranks"'
    echo "set output '$out/throughput.png'"
    printf 'set title "Throughput: samples/s (dashed: ideal, linear from the smallest rank count)%s"\n' "$note"
    echo 'set ylabel "samples / s"; set logscale y 2; set format y "%.0s%c"'
    printf 'plot '
    i=0
    for s in "${series[@]}"; do
        read -r p0 x0 _ < "$pd/$s.dat"
        c=${colors[i % ${#colors[@]}]}
        printf '"%s" using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb "%s" title "%s", ' \
            "$pd/$s.dat" "$c" "${s%-t*} scaling, ${s##*-t} thread(s)/rank"
        # shellcheck disable=SC2016  # $1 is gnuplot's first column
        printf '"%s" using 1:($1 * %s / %s) with lines dt 2 lw 1.5 lc rgb "%s" notitle, ' \
            "$pd/$s.dat" "$x0" "$p0" "$c"
        i=$((i + 1))
    done
    echo '1/0 with lines dt 2 lc rgb "gray40" title "ideal"'
    echo "set output '$out/efficiency.png'"
    printf 'set title "Parallel efficiency = speedup x smallest rank count / ranks%s"\n' "$note"
    echo 'unset logscale y; set format y "%g"; set yrange [0:1.2<*]; set ylabel "efficiency"'
    printf 'plot '
    series_lines 3
    echo ', 1 with lines dt 2 lw 1.5 lc rgb "gray40" title "ideal"'
    echo "set output '$out/memory.png'"
    printf 'set title "Peak memory per rank (the largest rank'"'"'s resident set)%s"\n' "$note"
    echo 'set yrange [0:*]; set ylabel "MB per rank"'
    printf 'plot '
    series_lines 5
    echo
    echo "set output '$out/breakdown.png'"
    printf 'set title "Time of one step by phase (ranks x threads per rank, /Nn: on N nodes)%s"\n' "$note"
    echo 'unset logscale x; set xtics auto norotate; set ylabel "ms per step"'
    echo 'unset xlabel'
    echo 'set yrange [0:*]; set key outside right top box'
    echo 'set style data histograms; set style histogram rowstacked title offset 0,-1.2; set bmargin 5'
    echo 'set style fill solid 0.85 border -1'
    echo 'set boxwidth 0.7'
    printf 'plot '
    first=1
    for m in strong weak; do
        [ -s "$pd/bars-$m.dat" ] || continue
        if [ $first = 1 ]; then
            t=("title 'compute'" "title 'allreduce'" "title 'update'" "title 'checkpoint I/O'" "title 'other'")
        else
            t=(notitle notitle notitle notitle notitle)
        fi
        [ $first = 1 ] || printf ', '
        first=0
        if [ $m = strong ]; then h="strong scaling (fixed global batch)"; else h="weak scaling (fixed batch per rank)"; fi
        printf "newhistogram '%s', '%s' using 2:xtic(1) %s lc rgb '#1f77b4', " "$h" "$pd/bars-$m.dat" "${t[0]}"
        printf "'' using 3 %s lc rgb '#d62728', '' using 4 %s lc rgb '#2ca02c', " "${t[1]}" "${t[2]}"
        printf "'' using 5 %s lc rgb '#ff7f0e', '' using 6 %s lc rgb '#bbbbbb'" "${t[3]}" "${t[4]}"
    done
    echo
} > "$out/plots.gp"
gnuplot "$out/plots.gp"
echo "scaling.sh: wrote $csv, $md, $out/throughput.png, $out/efficiency.png, $out/breakdown.png, $out/memory.png"
