#!/usr/bin/env bash
# Strong and weak scaling of `nndist train`: runs one training per (mode, threads, ranks),
# reads nndist's metrics CSV of each, and writes a CSV, a Markdown table and PNG plots.
#
#   scripts/scaling.sh --ranks 1,2,4,8 --threads 1 --data train.h5 --layers 784,512,256,10 --out DIR
#
# Inside a SLURM allocation (salloc -N 2 --ntasks-per-node=32, or in a batch script) mpirun
# places the ranks on the allocated nodes; outside one, on this machine.
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
#   --out DIR             results (default runs/scaling-<date>)
#   --nndist PATH         the binary (default $NNDIST, else build/nndist, else nndist on PATH)
#   --mpirun-args "ARGS"  placement flags for every run (default: --map-by slot:PE=<threads>
#                         when the ranks x threads fit on this machine's cores or inside a SLURM
#                         allocation, else --oversubscribe --bind-to none)
#   --report-only         rebuild the CSV, table and plots from DIR/runs.tsv and its metrics
#   -- ARGS               everything after -- goes to `nndist train` (e.g. -- --optimizer adam)
#
# What it writes into DIR:
#   scaling.csv      one row per run: mode, ranks, threads, cores, batches, samples/s, the
#                    time of one step split into compute / allreduce / update / I/O / other
#                    (ms, means over the counted epochs), speedup and efficiency
#   scaling.md       the same as Markdown tables, one per mode
#   throughput.png   samples/s against ranks, with the ideal (linear) line of each series
#   efficiency.png   parallel efficiency against ranks
#   breakdown.png    the time of one step of every run, stacked by phase
#   runs/            each run's metrics CSV and log; runs.tsv lists them
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

# ---- the runs
if [ $report_only = 0 ]; then
    [ -n "$data" ] || die "--data FILE is required"
    [ -n "$layers" ] || die "--layers is required"
    [ -r "$data" ] || die "--data: cannot read '$data'"
    if [ -z "$nndist" ]; then
        if [ -x "$repo/build/nndist" ]; then nndist=$repo/build/nndist; else nndist=$(command -v nndist || true); fi
    fi
    [ -x "${nndist:-/nonexistent}" ] || die "no nndist binary (build it, or give --nndist PATH)"
    cores=$(nproc)
    IFS=, read -r -a ranks_arr <<< "$ranks_list"
    IFS=, read -r -a threads_arr <<< "$threads_list"
    {
        echo "# scaling.sh on $(hostname -s), $cores cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "# $nndist --data $data --layers $layers --epochs $epochs ${extra[*]}"
        printf 'mode\tranks\tthreads\tglobal_batch\tbatch_per_rank\tplacement\tmetrics\n'
    } > "$index"
    for m in "${modes[@]}"; do
        for t in "${threads_arr[@]}"; do
            for p in "${ranks_arr[@]}"; do
                if [ $mpirun_args_set = 1 ]; then
                    place=$mpirun_args
                elif [ -n "${SLURM_JOB_ID:-}" ] || [ $((p * t)) -le "$cores" ]; then
                    place="--map-by slot:PE=$t"
                else
                    place="--oversubscribe --bind-to none"
                fi
                read -r -a place_arr <<< "$place"
                place=${place//,/;}   # the CSV's field separator
                if [ "$m" = strong ]; then
                    bflag=(--batch "$batch"); gb=$batch; bpr=$((batch / p))
                else
                    bflag=(--batch-per-rank "$batch_per_rank"); gb=$((batch_per_rank * p)); bpr=$batch_per_rank
                fi
                name=$m-p$p-t$t
                rm -f "$out/runs/$name.csv"
                echo "scaling.sh: $name: mpirun -np $p $place ... --threads $t ${bflag[*]}"
                if ! OMP_NUM_THREADS=$t mpirun -np "$p" "${place_arr[@]}" -x OMP_NUM_THREADS \
                    "$nndist" train --data "$data" --layers "$layers" "${bflag[@]}" \
                    --epochs "$epochs" --threads "$t" --no-progress \
                    --metrics "$out/runs/$name.csv" "${extra[@]}" > "$out/runs/$name.log" 2>&1; then
                    tail -n 20 "$out/runs/$name.log" >&2
                    echo "scaling.sh: run $name failed (log: $out/runs/$name.log)" >&2
                    exit 1
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$p" "$t" "$gb" "$bpr" "$place" \
                    "runs/$name.csv" >> "$index"
            done
        done
    done
fi
[ -f "$index" ] || die "no $index: nothing to report"

# ---- the CSV: one row per run, the counted epochs summed (first epoch left out when >= 2).
csv=$out/scaling.csv
echo "mode,ranks,threads,cores,global_batch,batch_per_rank,placement,epochs_counted,steps_counted,samples_per_s,step_ms,compute_ms,allreduce_ms,update_ms,io_ms,other_ms,speedup,efficiency" > "$csv"
grep -v '^#' "$index" | tail -n +2 | while IFS=$'\t' read -r m p t gb bpr place metrics; do
    awk -F, -v m="$m" -v p="$p" -v t="$t" -v gb="$gb" -v bpr="$bpr" -v place="$place" '
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
            ms = 1000 / steps; other = wall - tc - ta - tu - tio; if (other < 0) other = 0
            printf "%s,%d,%d,%d,%d,%d,%s,%d,%d,%.1f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", m, p, t, p * t,
                gb, bpr, place, n - first + 1, steps, smp / wall, wall * ms, tc * ms, ta * ms, tu * ms,
                tio * ms, other * ms
        }' "$out/$metrics"
done > "$csv.rows"
# Speedup and efficiency against the smallest rank count of the same mode and threads.
awk -F, -v OFS=, '
    { row[NR] = $0; key[NR] = $1 "/" $3; r[NR] = $2; x[NR] = $10
      if (!(key[NR] in base) || $2 < base[key[NR]]) { base[key[NR]] = $2; bx[key[NR]] = $10 } }
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
    echo "Measured: samples/s and the time of one step (ms; compute = forward + backward on this"
    echo "rank, allreduce = the gradient sum including waiting for the slowest rank, update = the"
    echo "optimizer, I/O = checkpoints, other = the rest of the epoch's wall time), over the epochs"
    echo "counted. Speedup and efficiency are against the smallest rank count of the same mode and"
    echo "threads. Runs marked * had more ranks x threads than cores (oversubscribed): their times"
    echo "say nothing about a real cluster."
    for m in strong weak; do
        grep -q "^$m," "$csv" || continue
        echo
        if [ "$m" = strong ]; then
            echo "## Strong scaling (fixed global batch; ideal: speedup = ranks / base ranks)"
        else
            echo "## Weak scaling (fixed batch per rank; ideal: constant step time, efficiency 1)"
        fi
        echo
        echo "| ranks | threads | global batch | batch/rank | samples/s | step ms | compute | allreduce | update | I/O | other | speedup | efficiency |"
        echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F, -v m="$m" -v cores="$(nproc)" '
            $1 == m { star = ($7 ~ /oversubscribe/) ? "*" : ""
                      printf "| %d%s | %d | %d | %d | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |\n",
                             $2, star, $3, $5, $6, $10, $11, $12, $13, $14, $15, $16, $17, $18 }' "$csv"
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
series=()
while IFS=, read -r m t; do
    f=$pd/$m-t$t.dat
    awk -F, -v m="$m" -v t="$t" 'NR > 1 && $1 == m && $3 == t { print $2, $10, $18, $11 }' "$csv" |
        sort -n > "$f"
    series+=("$m-t$t")
done < <(tail -n +2 "$csv" | cut -d, -f1,3 | sort -u)
for m in strong weak; do
    awk -F, -v m="$m" 'NR > 1 && $1 == m { printf "\"%dx%d%s\" %s %s %s %s %s\n", $2, $3,
        $7 ~ /oversubscribe/ ? "*" : "", $12, $13, $14, $15, $16 }' "$csv" > "$pd/bars-$m.dat"
done
xtics=$(tail -n +2 "$csv" | cut -d, -f2 | sort -nu | paste -sd, -)
# "vm, 2 cores, 2026-...": from the first line of runs.tsv
where=$(sed -n '1s/^# scaling.sh on //p' "$index")
note="$where"
if grep -q oversubscribe "$csv"; then note="$note; * = more ranks x threads than cores"; fi
colors=("#1f77b4" "#d62728" "#2ca02c" "#ff7f0e" "#9467bd" "#8c564b" "#e377c2" "#17becf")

{
    echo 'set terminal pngcairo size 960,620 font "DejaVu Sans,11"'
    echo "set grid; set key top left box opaque; set logscale x 2; set xtics ($xtics)"
    echo 'set xlabel "MPI ranks"'
    echo "set output '$out/throughput.png'"
    printf 'set title "Throughput: samples/s (dashed: ideal, linear from the smallest rank count)\\n{/*0.85 %s}"\n' "$note"
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
    printf 'set title "Parallel efficiency = speedup x smallest rank count / ranks\\n{/*0.85 %s}"\n' "$note"
    echo 'unset logscale y; set format y "%g"; set yrange [0:1.2<*]; set ylabel "efficiency"'
    printf 'plot '
    i=0
    for s in "${series[@]}"; do
        printf '"%s" using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb "%s" title "%s", ' \
            "$pd/$s.dat" "${colors[i % ${#colors[@]}]}" "${s%-t*} scaling, ${s##*-t} thread(s)/rank"
        i=$((i + 1))
    done
    echo '1 with lines dt 2 lw 1.5 lc rgb "gray40" title "ideal"'
    echo "set output '$out/breakdown.png'"
    printf 'set title "Time of one step by phase (ranks x threads per rank)\\n{/*0.85 %s}"\n' "$note"
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
            t=("title 'compute'" "title 'allreduce'" "title 'update'" "title 'I/O'" "title 'other'")
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
echo "scaling.sh: wrote $csv, $md, $out/throughput.png, $out/efficiency.png, $out/breakdown.png"
