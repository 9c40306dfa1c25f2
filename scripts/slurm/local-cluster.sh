#!/usr/bin/env bash
# A real SLURM on this machine, for tests: does scripts/slurm/nndist.sbatch survive requeues?
#
#   scripts/slurm/local-cluster.sh [--nodes N] [--scenario requeue|node-failure] [BUILD_DIR]
#                                  (BUILD_DIR default build/; as root; --help prints this)
#
#   --nodes N      N compute nodes (1-8; default 1, or 2 with --scenario node-failure). With N >= 2
#                  each node is its own slurmd in its own UTS namespace, with hostname nnd1..nndN
#                  (a fake host: separate shared-memory groups, TCP between them), its own port,
#                  spool directory, pid and log file. Needs `unshare --uts` (root).
#   --scenario S   requeue (default): steps 3-7 below. node-failure: a job on all N nodes is
#                  requeued by USR1, loses its last node (slurmd killed, node DOWN) and resumes
#                  on the N-1 left (scripts/slurm/local-cluster-node-failure.sh, sourced here).
#
# 1. Installs Debian's slurm-wlm and munge when missing (scripts/install-deps.sh slurm).
# 2. Writes the cluster into a fresh temporary directory (slurm.conf, munge key, state,
#    spool, logs, pid files: nothing outside it), picks free TCP ports (slurmctld, one per
#    node), and starts munged, slurmctld and the slurmd(s) on 127.0.0.1.
# 3. Submits the unchanged template with sbatch: 2 ranks train a small model on a synthetic
#    dataset with a checkpoint every 50 steps.
# 4. Interrupts it twice: `scancel --signal=USR1 --batch` (the template's trap forwards USR1 to
#    mpirun, nndist checkpoints and exits 75, the template requeues the job), then, once the
#    restarted job has made progress, a hard `scontrol requeue` (SLURM kills the job).
# 5. Checks that the job completed after two restarts (SLURM_RESTART_COUNT 1 and 2 in its
#    output, Restarts=2, and restart count 2 in the attributes of its last checkpoint), that it
#    resumed each time, and that its model is bitwise equal to an uninterrupted run.
# 6. Submits the same job launched by srun (MPIRUN=srun), stops it with USR1 and checks the
#    requeued job's model the same way.
# 7. Submits the template once more as a sweep (NNDIST_COMMAND=sweep), stops it with USR1 in a
#    fold, and checks that the requeued sweep ends with the results of an uninterrupted one.
# 8. On exit, cancels the job and stops every process it started, by pid: the daemons, and any
#    job process left (found by a variable naming this cluster in its environment).
#
# Binaries: $NNDIST, $MAKE_DATASET and $COMPARE_MODELS (set by ctest), else BUILD_DIR/nndist,
# BUILD_DIR/tests/nnd_make_dataset and BUILD_DIR/tests/nnd_compare_models.
# Exit codes: 0 passed, 1 failed (logs printed), 2 bad arguments, 77 cannot run here (not root,
# no packages, no unshare). KEEP=1 keeps the temporary directory. Takes about 80 s (the
# node-failure scenario about 25 s).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
nodes='' scenario=requeue build=''
usage() { echo "local-cluster: $*; see --help" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --nodes) [ $# -ge 2 ] || usage "--nodes needs a count"; nodes=$2; shift 2 ;;
    --nodes=*) nodes=${1#*=}; shift ;;
    --scenario) [ $# -ge 2 ] || usage "--scenario needs a name"; scenario=$2; shift 2 ;;
    --scenario=*) scenario=${1#*=}; shift ;;
    -*) usage "unknown option $1" ;;
    *) [ -z "$build" ] || usage "one BUILD_DIR only"; build=$1; shift ;;
    esac
done
case $scenario in
requeue) nodes=${nodes:-1} ;;
# A node must be left after one goes down.
node-failure) nodes=${nodes:-2}; [ "$nodes" -ge 2 ] 2> /dev/null || usage "node-failure needs --nodes >= 2" ;;
*) usage "unknown scenario '$scenario' (requeue, node-failure)" ;;
esac
case $nodes in [1-8]) ;; *) usage "--nodes takes 1 to 8, not '$nodes'" ;; esac
build=${build:-$repo/build}
NNDIST=${NNDIST:-$build/nndist}
MAKE_DATASET=${MAKE_DATASET:-$build/tests/nnd_make_dataset}
COMPARE_MODELS=${COMPARE_MODELS:-$build/tests/nnd_compare_models}
MPIEXEC=${MPIEXEC:-mpirun}

say() { echo "local-cluster: $*"; }
skip() { echo "local-cluster: SKIP: $*" >&2; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root: munged, slurmctld and slurmd run here as root" \
    "(SlurmUser=root); as another user they would need a slurm account and root-owned key files"
for b in "$NNDIST" "$MAKE_DATASET" "$COMPARE_MODELS"; do
    [ -x "$b" ] || { echo "local-cluster: no executable $b (build first, or pass BUILD_DIR)" >&2; exit 1; }
done
# The job runs in another directory: absolute paths.
NNDIST=$(realpath "$NNDIST")
MAKE_DATASET=$(realpath "$MAKE_DATASET")
COMPARE_MODELS=$(realpath "$COMPARE_MODELS")
export NNDIST
if ! "$repo/scripts/install-deps.sh" slurm; then
    skip "could not install slurm-wlm and munge with apt-get (no network or no package mirror?)"
fi
for b in munged slurmctld slurmd sbatch scontrol squeue scancel; do
    command -v "$b" > /dev/null || skip "$b is not on PATH after installing slurm-wlm and munge"
done
if [ "$nodes" -gt 1 ] && ! unshare --uts true 2> /dev/null; then
    skip "--nodes $nodes needs unshare --uts (util-linux, and CAP_SYS_ADMIN) for the fake hosts"
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
node=$(hostname -s)
D=$(mktemp -d /tmp/nndist-slurm.XXXXXX)
export SLURM_CONF=$D/slurm.conf
started=()   # pids of the daemons, in start order
job=
field() { scontrol -o show job "$job" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# The daemons and the job get NNDIST_LOCAL_CLUSTER=$D in their environment (this shell does
# not): every process they start inherits it, so this finds whatever is left of them.
ours() {
    local e
    for e in /proc/[0-9]*/environ; do
        { tr '\0' '\n' < "$e"; } 2> /dev/null | grep -qxF "NNDIST_LOCAL_CLUSTER=$D" || continue
        e=${e#/proc/}
        echo "${e%/environ}"
    done
    return 0
}
stop_pid() {   # TERM, up to 5 s, then KILL
    local pid=$1 i
    kill -TERM "$pid" 2> /dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2> /dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
}
show_logs() {
    local f
    for f in "$D"/job/nndist-*.out "$D"/slurmctld.log "$D"/slurmd*.log "$D"/munged.log; do
        [ -f "$f" ] || continue
        echo "---- tail of $f" >&2
        tail -n 40 "$f" >&2
    done
}
cleanup() {
    local code=$? pid i
    trap - EXIT
    set +e
    [ $code -eq 0 ] || [ $code -eq 77 ] || show_logs
    if [ -n "$job" ] && [ ${#started[@]} -ge 2 ]; then
        scancel "$job" 2> /dev/null
        for i in $(seq 50); do
            [ -z "$(squeue -h -j "$job" -t running,completing 2> /dev/null)" ] && break
            sleep 0.2
        done
    fi
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop_pid "${started[i]}"; done
    for pid in "${started[@]}"; do wait "$pid" 2> /dev/null; done
    # Whatever is left of a job (slurmstepd, the batch shell, mpirun, ranks).
    for pid in $(ours); do stop_pid "$pid"; done
    left=$(ours)
    if [ -n "$left" ]; then
        echo "local-cluster: processes still running: $left" >&2
        [ $code -ne 0 ] || code=1
    fi
    if [ "${KEEP:-0}" = 1 ]; then say "kept $D"; else rm -rf "$D"; fi
    exit $code
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "local-cluster: FAIL: $*" >&2
    exit 1
}
# until SECONDS WHAT COMMAND...: poll COMMAND every 0.2 s until it succeeds; fail early when
# the job has ended in a state it must not reach. The whole script ends within
# LOCAL_CLUSTER_TIMEOUT seconds (default 240), so that it cleans up before ctest's timeout.
deadline=$((SECONDS + ${LOCAL_CLUSTER_TIMEOUT:-240}))
until_ok() {
    local limit=$1 what=$2 end st
    shift 2
    end=$((SECONDS + limit))
    [ $end -le $deadline ] || end=$deadline
    until "$@"; do
        [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
        if [ -n "$job" ]; then
            st=$(field JobState)
            case $st in
            FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
                fail "job $job ended $st ($(field ExitCode)) while waiting for $what" ;;
            esac
        fi
        sleep 0.2
    done
}

# ---- the cluster in $D
port_free() {
    if command -v ss > /dev/null; then
        [ -z "$(ss -Htan "( sport = :$1 )" 2> /dev/null)" ]
    else
        if (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; then return 1; fi
    fi
}
ports_free() {   # FIRST COUNT
    local i
    for ((i = 0; i < $2; i++)); do port_free $(($1 + i)) || return 1; done
}
ctl_port=
for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if ports_free "$p" $((nodes + 1)); then ctl_port=$p; break; fi
done
[ -n "$ctl_port" ] || fail "found no $((nodes + 1)) free TCP ports in a row in 20000-50000"
slurmd_port=$((ctl_port + 1))
# One node: this host, with the slurmd paths as they always were. Several: fake hosts nnd1..N,
# each slurmd on its own port (slurmd_port + i - 1) and with its own paths (%n = node name).
if [ "$nodes" -eq 1 ]; then
    names=("$node")
    spool=$D/spool slurmd_pid=$D/slurmd.pid slurmd_log=$D/slurmd.log
else
    names=()
    for i in $(seq "$nodes"); do names+=("nnd$i"); done
    spool=$D/spool/%n slurmd_pid=$D/slurmd-%n.pid slurmd_log=$D/slurmd-%n.log
fi

mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/job"
[ "$nodes" -eq 1 ] || for n in "${names[@]}"; do mkdir -p "$D/spool/$n"; done
# munged wants its socket directory (and the path to it) searchable by everyone.
chmod 755 "$D" "$D/munge"
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
# The job asks for 2 tasks; config_overrides below takes this node description as it is written,
# whatever the hardware's socket/core/thread layout (no draining for "Low socket*core count").
# Every fake node claims the same cores: 2 ranks fit on any one of them.
cpus=$(nproc)
[ "$cpus" -ge 2 ] || cpus=2
mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
cat > "$SLURM_CONF" << EOF
# $nodes-node test cluster written by scripts/slurm/local-cluster.sh
ClusterName=nndtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket.2,cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$slurmd_log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
JobRequeue=1
ReturnToService=2
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=5
PlugStackConfig=$D/plugstack.conf
EOF
for i in "${!names[@]}"; do
    port=
    [ "$nodes" -eq 1 ] || port=" Port=$((slurmd_port + i))"
    echo "NodeName=${names[i]} NodeAddr=127.0.0.1$port CPUs=$cpus Sockets=1 CoresPerSocket=$cpus" \
        "ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"
done >> "$SLURM_CONF"
echo "PartitionName=test Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP" \
    >> "$SLURM_CONF"
: > "$D/plugstack.conf"

if [ "$nodes" -eq 1 ]; then
    say "cluster in $D (slurmctld port $ctl_port, slurmd port $slurmd_port, node $node, $cpus CPUs)"
else
    say "cluster in $D (slurmctld port $ctl_port, nodes ${names[*]} on ports" \
        "$slurmd_port-$((slurmd_port + nodes - 1)), $cpus CPUs each)"
fi
NNDIST_LOCAL_CLUSTER=$D munged --foreground --key-file="$D/munge/munge.key" \
    --socket="$D/munge/munge.socket.2" --pid-file="$D/munge/munged.pid" \
    --log-file="$D/munged.log" --seed-file="$D/munge/munged.seed" > "$D/munged.out" 2>&1 &
started+=($!)
until_ok 10 "munged's socket" test -S "$D/munge/munge.socket.2"
NNDIST_LOCAL_CLUSTER=$D slurmctld -D > "$D/slurmctld.out" 2>&1 &
started+=($!)
until_ok 20 "slurmctld to answer" scontrol ping > /dev/null 2>&1
declare -A slurmd_of   # node name -> its slurmd's pid (a scenario may kill one)
if [ "$nodes" -eq 1 ]; then
    NNDIST_LOCAL_CLUSTER=$D slurmd -D > "$D/slurmd.out" 2>&1 &
    started+=($!)
    slurmd_of[$node]=$!
else
    # unshare execs sh, which execs slurmd: $! is the slurmd. Everything the node starts (the
    # job's slurmstepd, the batch shell, mpirun or its daemon, the ranks) inherits the hostname.
    for n in "${names[@]}"; do
        # shellcheck disable=SC2016  # $1 and $2 are the inner sh's arguments
        NNDIST_LOCAL_CLUSTER=$D unshare --uts sh -c 'hostname "$1" && exec slurmd -D -f "$2" -N "$1"' \
            sh "$n" "$SLURM_CONF" > "$D/slurmd-$n.out" 2>&1 &
        started+=($!)
        slurmd_of[$n]=$!
    done
fi
all_idle() {
    local n
    for n in "${names[@]}"; do [ "$(sinfo -h -n "$n" -o %T 2> /dev/null)" = idle ] || return 1; done
}
until_ok 30 "node(s) ${names[*]} to be idle" all_idle
say "munged, slurmctld and $nodes slurmd up (pids ${started[*]})"

# ---- shared by the scenarios: the training job (500 steps, a checkpoint every 50), helpers.
"$MAKE_DATASET" "$D/train.h5" 2048 16 4 11
export NNDIST_DATA=$D/train.h5 NNDIST_LAYERS=16,32,32,4 NNDIST_BATCH=64 NNDIST_LR=0.05 \
    NNDIST_OPTIMIZER=momentum NNDIST_SEED=5 NNDIST_STEPS=500 NNDIST_CKPT_EVERY=50
export MPIRUN=$MPIEXEC MPIRUN_ARGS="--oversubscribe --bind-to none"
unset NNDIST_RUN_DIR NNDIST_ARGS NNDIST_COMMAND NNDIST_OPTIMIZERS NNDIST_LRS NNDIST_FOLDS

# The uninterrupted reference: the same training flags, on 2 ranks, without SLURM.
reference() {
    OMP_NUM_THREADS=1 NNDIST_FAULT='' timeout -k 5 120 "$MPIEXEC" -np 2 --oversubscribe --bind-to none \
        "$NNDIST" train --data "$NNDIST_DATA" --layers "$NNDIST_LAYERS" --batch "$NNDIST_BATCH" \
        --lr "$NNDIST_LR" --optimizer "$NNDIST_OPTIMIZER" --seed "$NNDIST_SEED" --threads 1 \
        --steps "$NNDIST_STEPS" --no-progress --save "$D/reference.h5" > "$D/reference.log" 2>&1 ||
        fail "the uninterrupted run failed: $(tail -n 5 "$D/reference.log")"
}

# submit [SBATCH OPTIONS]: the unchanged template, as a user submits it; sets job, out, ckpts.
submit() {
    job=$(NNDIST_LOCAL_CLUSTER=$D sbatch --parsable --chdir="$D/job" --time=10 "$@" \
        "$repo/scripts/slurm/nndist.sbatch")
    job=${job%%;*}
    out=$D/job/nndist-$job.out
    ckpts=$D/job/runs/nndist-$job/checkpoints
    say "submitted job $job ($NNDIST_COMMAND${*:+, $*})"
}

state_is() { [ "$(field JobState)" = "$1" ] && [ "$(field Restarts)" = "$2" ]; }
# Started again after restart $1: running, or already past it (a short remainder of the run can
# start and finish between two polls).
restarted() {
    [ "$(field Restarts)" = "$1" ] || return 1
    case $(field JobState) in RUNNING | COMPLETING | COMPLETED) return 0 ;; *) return 1 ;; esac
}
has_ckpt() { [ -f "$ckpts/ckpt-$(printf %012d "$1").h5" ]; }
in_output() { [ -f "$out" ] && grep -q -- "$1" "$out"; }

if [ "$scenario" = node-failure ]; then
    # shellcheck source-path=SCRIPTDIR source=local-cluster-node-failure.sh
    source "$here/local-cluster-node-failure.sh"
    exit 0
fi

# ---- requeue: the job on 2 ranks, stopped by USR1 and by scontrol requeue.
# Every rank sleeps 3 s at steps 170 and 370 (or until a signal; fault injection for tests,
# see include/nndist/guard.h): the signals below land mid-run however fast the machine is.
export NNDIST_FAULT='pause@*:170,pause@*:370'
reference
NNDIST_COMMAND=train submit

# 1. Warning signal: USR1 to the batch shell, as --signal=B:USR1@120 sends it.
until_ok 30 "job $job to run" state_is RUNNING 0
until_ok 60 "the checkpoint at step 150" has_ckpt 150
t0=$SECONDS
scancel --signal=USR1 --batch "$job"
until_ok 30 "the template to requeue the job after exit 75" in_output "requeueing job $job"
in_output "got SIGUSR1: forwarding SIGUSR1 to mpirun" || fail "the trap did not run"
in_output "exit code 75, after SIGUSR1" || fail "nndist did not exit 75 after USR1"
until_ok 60 "job $job to run again (restart 1)" restarted 1
say "USR1 -> checkpoint -> exit 75 -> requeued -> running again in $((SECONDS - t0)) s"

# 2. A hard requeue: SLURM kills the job; it resumes from the newest checkpoint.
until_ok 60 "the restarted job to checkpoint step 350" has_ckpt 350
t0=$SECONDS
scontrol requeue "$job"
until_ok 60 "job $job to run again (restart 2)" restarted 2
say "scontrol requeue -> running again in $((SECONDS - t0)) s"
until_ok 90 "job $job to complete" state_is COMPLETED 2
[ "$(field ExitCode)" = 0:0 ] || fail "job $job ended with ExitCode=$(field ExitCode)"

# 3. It restarted twice, resumed each time, and ended exactly where the uninterrupted run did.
for r in 0 1 2; do
    in_output "job $job restart $r on" || fail "no start with SLURM_RESTART_COUNT=$r in $out"
done
[ "$(grep -c 'resuming from' "$out")" -eq 2 ] || fail "the job did not resume twice"
in_output "training finished" || fail "no 'training finished' in $out"
# nndist itself saw the restarts: the final checkpoint records SLURM's job id and restart count.
last=$(find "$ckpts" -name 'ckpt-*.h5' | sort | tail -n 1)
"$NNDIST" info "$last" > "$D/info.txt" || fail "nndist info $last failed"
if ! grep -Eq "slurm_job_id +$job\$" "$D/info.txt" || ! grep -Eq 'slurm_restart_count +2$' "$D/info.txt"; then
    fail "$last does not record job $job, restart 2: $(grep slurm "$D/info.txt")"
fi
"$COMPARE_MODELS" "$D/reference.h5" "$D/job/runs/nndist-$job/model.h5" 0 ||
    fail "the requeued job's model is not bitwise equal to the uninterrupted run's"
say "job $job: stopped by USR1, requeued, killed by scontrol requeue, completed; model bitwise equal"
grep -E 'nndist.sbatch: (job|got|nndist|requeueing|training)|resuming from' "$out" | sed 's/^/    /'

# ---- the same job launched by srun (MPIRUN=srun): USR1, requeue, the same weights.
MPIRUN=srun MPIRUN_ARGS="--mpi=pmix" NNDIST_COMMAND=train submit
until_ok 30 "srun job $job to run" state_is RUNNING 0
until_ok 60 "the srun job's checkpoint at step 150" has_ckpt 150
scancel --signal=USR1 --batch "$job"
until_ok 30 "the template to requeue the srun job after exit 75" in_output "requeueing job $job"
until_ok 120 "srun job $job to complete" state_is COMPLETED 1
[ "$(field ExitCode)" = 0:0 ] || fail "srun job $job ended with ExitCode=$(field ExitCode)"
in_output "srun --ntasks 2" || fail "the template did not launch with srun"
"$COMPARE_MODELS" "$D/reference.h5" "$D/job/runs/nndist-$job/model.h5" 0 ||
    fail "the srun job's model is not bitwise equal to the uninterrupted run's"
say "srun job $job: stopped by USR1, requeued, completed; model bitwise equal"

# ---- a sweep through the same template: USR1 in a fold, requeue, the same results.
# 2 configurations x 2 folds, 64 steps each; every fold pauses 3 s at step 20 (the window).
export NNDIST_COMMAND=sweep NNDIST_OPTIMIZERS=momentum NNDIST_LRS=0.01,0.05 NNDIST_FOLDS=2 \
    NNDIST_EPOCHS=4 NNDIST_CKPT_EVERY=10 NNDIST_FAULT='pause@*:20'
unset NNDIST_STEPS
sweep_args=(sweep --data "$NNDIST_DATA" --layers "$NNDIST_LAYERS" --batch "$NNDIST_BATCH"
    --optimizers "$NNDIST_OPTIMIZERS" --lrs "$NNDIST_LRS" --folds "$NNDIST_FOLDS"
    --epochs "$NNDIST_EPOCHS" --seed "$NNDIST_SEED" --threads 1 --out "$D/sweep-reference")
OMP_NUM_THREADS=1 NNDIST_FAULT='' timeout -k 5 120 "$MPIEXEC" -np 2 --oversubscribe --bind-to none \
    "$NNDIST" "${sweep_args[@]}" > "$D/sweep-reference.log" 2>&1 ||
    fail "the uninterrupted sweep failed: $(tail -n 5 "$D/sweep-reference.log")"
submit
sweep_dir=$D/job/runs/nndist-$job/sweep
fold_ckpt() { compgen -G "$sweep_dir/state/fold-*/ckpt-000000000010.h5" > /dev/null; }
until_ok 60 "a fold's checkpoint at step 10" fold_ckpt
scancel --signal=USR1 --batch "$job"
until_ok 30 "the template to requeue the sweep after exit 75" in_output "requeueing job $job"
until_ok 120 "sweep job $job to complete" state_is COMPLETED 1
[ "$(field ExitCode)" = 0:0 ] || fail "sweep job $job ended with ExitCode=$(field ExitCode)"
in_output "resuming .*, fold [0-9]*, at step" || fail "the requeued sweep resumed no fold"
in_output "sweep finished" || fail "no 'sweep finished' in $out"
for f in folds.csv sweep.csv; do
    cut -d, -f1-12,14 "$D/sweep-reference/$f" > "$D/a.csv"
    cut -d, -f1-12,14 "$sweep_dir/$f" > "$D/b.csv"
    cmp -s "$D/a.csv" "$D/b.csv" || fail "the requeued sweep's $f differs from the uninterrupted one's"
done
say "sweep job $job: stopped by USR1 in a fold, requeued, completed; folds.csv and sweep.csv equal"
