# shellcheck shell=bash disable=SC2154  # names, slurmd_of, job, out, ...: set by local-cluster.sh
# The node-failure scenario of scripts/slurm/local-cluster.sh: sourced by it (never run alone)
# with `--scenario node-failure`, once its cluster of N >= 2 fake hosts (names[], slurmd_of[])
# is up. It uses that script's helpers (submit, field, until_ok, fail, say, ...).
#
# 1. The unchanged template, submitted with `sbatch -N N --ntasks-per-node=1`: one rank on each
#    node, trained as the requeue scenario's job (500 steps, a checkpoint every 50).
# 2. USR1 (`scancel --signal=USR1 --batch`): checkpoint, exit 75, the template requeues the job.
# 3. While the requeued job waits to start again, the last node fails: its slurmd is killed
#    (SIGKILL) and it is set DOWN, as an administrator or a health check would once the node stops
#    answering (slurmctld itself would wait SlurmdTimeout, 300 s).
# 4. A job asking for N nodes would wait for the lost node forever, so the pending job is shrunk to
#    the nodes left (`scontrol update jobid=J NumNodes=N-1 NumTasks=N-1`). The template must take
#    its rank count from this start's allocation (SLURM_TASKS_PER_NODE: SLURM_NTASKS keeps the
#    count of the submission), so that nndist resumes the N-rank checkpoint on N-1 ranks.
# 5. Checks: the first start ran N ranks on N nodes and the lost node ran a part of it; the
#    second ran N-1 ranks without the lost node, resumed the checkpoint that N ranks saved, and
#    completed; its model equals the uninterrupted run's to float round-off (1e-5 relative).

export NNDIST_COMMAND=train
# Every rank sleeps 3 s at step 170 (or until a signal): USR1 lands mid-run on any machine.
export NNDIST_FAULT='pause@*:170'
lost=${names[nodes - 1]}
left=$((nodes - 1))
reference
submit -N "$nodes" --ntasks-per-node=1

until_ok 30 "job $job to run on $nodes nodes" state_is RUNNING 0
[ "$(field NumNodes)" = "$nodes" ] || fail "job $job got $(field NumNodes) nodes, not $nodes"
until_ok 60 "the checkpoint at step 150" has_ckpt 150
t0=$SECONDS
scancel --signal=USR1 --batch "$job"
until_ok 30 "the template to requeue the job after exit 75" in_output "requeueing job $job"
in_output "exit code 75, after SIGUSR1" || fail "nndist did not exit 75 after USR1"

# The node fails. SLURM holds a requeued job back for a while (measured: 11 s here, cred_expire
# + 1), so it is still pending now; checked, since the test means nothing otherwise.
pid=${slurmd_of[$lost]}
disown "$pid"   # else bash reports the "Killed" job on the output
kill -KILL "$pid"
gone() { ! kill -0 "$pid" 2> /dev/null; }
until_ok 10 "$lost's slurmd (pid $pid) to die" gone
scontrol update nodename="$lost" state=down reason="node-failure test: slurmd killed"
st=$(field JobState)
[ "$st" = PENDING ] || fail "job $job is $st, not PENDING, when $lost went down: it restarted too early"
lost_state=$(sinfo -h -n "$lost" -o %T)
# "down*" once slurmctld also finds the node not responding.
case $lost_state in down | 'down*') ;; *) fail "$lost is $lost_state, not down" ;; esac
say "USR1 -> checkpoint -> exit 75 -> requeued, pending; $lost: slurmd killed, node DOWN" \
    "($((SECONDS - t0)) s after USR1)"
scontrol update jobid="$job" NumNodes="$left" NumTasks="$left" ||
    fail "could not shrink pending job $job to $left node(s)"
say "pending job $job shrunk to the $left node(s) left: NumNodes=$left NumTasks=$left"

until_ok 60 "job $job to run again on $left node(s) (restart 1)" restarted 1
until_ok 90 "job $job to complete" state_is COMPLETED 1
[ "$(field ExitCode)" = 0:0 ] || fail "job $job ended with ExitCode=$(field ExitCode)"
say "job $job ran again without $lost and completed, $((SECONDS - t0)) s after USR1"

# What ran where: the template's start lines; slurmd logs a step launched on its node.
in_output "job $job restart 0 on .*: $nodes ranks x 1 threads" ||
    fail "the first start did not run $nodes ranks: $(grep 'restart 0 on' "$out")"
grep -q "launch task StepId=$job\.0 " "$D/slurmd-$lost.log" ||
    fail "$lost never launched a step of job $job: the first start did not span the nodes"
# SLURM_NTASKS is set once, at submission (sbatch puts it in the job's environment), and stays
# at N after the shrink; SLURM_TASKS_PER_NODE is the allocation of this start.
in_output "job $job restart 1 on .*: $left ranks x 1 threads" ||
    fail "the restart did not run $left rank(s) on the $left node(s) left: $(grep 'restart 1 on' "$out")" \
        "(does the template take its rank count from SLURM_NTASKS, which keeps the value of the" \
        "submission, instead of the allocation, SLURM_TASKS_PER_NODE?)"
last_nodes=$(scontrol show hostnames "$(field NodeList)")
if [ "$(wc -l <<< "$last_nodes")" -ne "$left" ] || grep -qxF "$lost" <<< "$last_nodes"; then
    fail "the restart ran on $(field NodeList), not on the $left node(s) left"
fi
# nndist says how many ranks wrote the checkpoint it resumes ("saved by 2 ranks").
in_output "resuming from .*/ckpt-[0-9]*\.h5 at step [0-9]* (.*saved by $nodes ranks)" ||
    fail "the restart did not resume a checkpoint of $nodes ranks: $(grep resuming "$out")"
in_output "training finished" || fail "no 'training finished' in $out"

"$COMPARE_MODELS" "$D/reference.h5" "$D/job/runs/nndist-$job/model.h5" 1e-5 > "$D/compare.txt" 2>&1 ||
    fail "the job's model differs from the uninterrupted run's beyond 1e-5: $(cat "$D/compare.txt")"
say "model vs uninterrupted run: $(cat "$D/compare.txt")"
say "job $job: $nodes nodes, USR1 requeue, $lost lost, resumed on $left rank(s), completed; model equal"
grep -E 'nndist.sbatch: (job|got|nndist|requeueing|training)|^slurm: |resuming from' "$out" | sed 's/^/    /'
