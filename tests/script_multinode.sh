# Ranks on several nodes, emulated here (scripts/mpirun-fake-nodes: each node its own hostname
# and Open MPI daemon, separate shared-memory groups, TCP between them):
#  - 2 nodes x 1 rank take the cross-node path (the update sharded by reduce-scatter and
#    allgather, not in node-shared memory) and give the weights of one node x 2 ranks to
#    round-off, bitwise when run again; 4 nodes x 1 rank as well;
#  - a run checkpointed on 2 nodes resumes on 4 nodes and on one node, to round-off;
#  - kill -9 of the rank on one node mid-run ends the job within 10 s, and the message names the
#    rank and its node.
# Needs root for the emulated nodes: skipped (77) elsewhere.
source "$(dirname "$0")/lib.sh"
FAKE=$SRC_DIR/scripts/mpirun-fake-nodes
set +e
"$FAKE" 1 1 true > "$WORK/probe.log" 2>&1
code=$?
set -e
[ $code -ne 77 ] || { cat "$WORK/probe.log"; exit 77; }
[ $code -eq 0 ] || fail "mpirun-fake-nodes cannot start: $(cat "$WORK/probe.log")"

"$MAKE_DATASET" "$WORK/train.h5" 1200 40 5 3
common=(train --data "$WORK/train.h5" --layers 40,32,5 --batch 40 --optimizer adam --lr 0.01
        --no-progress)
fake() { timeout -k 5 120 "$FAKE" "$@"; }

run 2 "${common[@]}" --steps 60 --save "$WORK/one.h5" > "$WORK/one.log" || fail "one node failed"
grep -q "update sharded across the ranks, in node-shared memory" "$WORK/one.log" ||
    fail "one node did not take the node-shared update: $(cat "$WORK/one.log")"
for n in a b; do
    fake 2 1 "$NNDIST" "${common[@]}" --steps 60 --save "$WORK/two-$n.h5" > "$WORK/two-$n.log" 2>&1 ||
        fail "2 nodes failed: $(cat "$WORK/two-$n.log")"
done
grep -q "update sharded across the ranks, by reduce-scatter and allgather" "$WORK/two-a.log" ||
    fail "2 nodes of 1 rank did not shard the update by reduce-scatter: $(cat "$WORK/two-a.log")"
"$COMPARE_MODELS" "$WORK/two-a.h5" "$WORK/two-b.h5" 0 > /dev/null ||
    fail "2 nodes run twice are not bitwise equal"
"$COMPARE_MODELS" "$WORK/one.h5" "$WORK/two-a.h5" 1e-5 ||
    fail "2 nodes and one node differ beyond round-off"
fake 4 1 "$NNDIST" "${common[@]}" --steps 60 --save "$WORK/four.h5" > "$WORK/four.log" 2>&1 ||
    fail "4 nodes failed: $(cat "$WORK/four.log")"
"$COMPARE_MODELS" "$WORK/one.h5" "$WORK/four.h5" 1e-5 ||
    fail "4 nodes and one node differ beyond round-off"

# Checkpointed on 2 nodes at step 30; resumed on 4 nodes, and on one node, to step 60.
fake 2 1 "$NNDIST" "${common[@]}" --steps 30 --checkpoint-dir "$WORK/ck" > "$WORK/ck.log" 2>&1 ||
    fail "the 2-node run to step 30 failed: $(cat "$WORK/ck.log")"
cp -r "$WORK/ck" "$WORK/ck1"
fake 4 1 "$NNDIST" "${common[@]}" --steps 60 --checkpoint-dir "$WORK/ck" --resume auto \
    --save "$WORK/resumed4.h5" > "$WORK/resumed4.log" 2>&1 ||
    fail "the resume on 4 nodes failed: $(cat "$WORK/resumed4.log")"
grep -q "resuming from .*ckpt-000000000030.h5 at step 30 .*saved by 2 ranks" "$WORK/resumed4.log" ||
    fail "4 nodes did not resume step 30: $(cat "$WORK/resumed4.log")"
"$COMPARE_MODELS" "$WORK/one.h5" "$WORK/resumed4.h5" 1e-5 || fail "the 4-node resume drifted"
run 2 "${common[@]}" --steps 60 --checkpoint-dir "$WORK/ck1" --resume auto \
    --save "$WORK/resumed1.h5" > "$WORK/resumed1.log" || fail "the resume on one node failed"
"$COMPARE_MODELS" "$WORK/one.h5" "$WORK/resumed1.h5" 1e-5 || fail "the one-node resume drifted"

# A node dies: its rank is killed mid-run; the job must end quickly, naming what was lost.
fake 2 1 "$NNDIST" "${common[@]}" --steps 100000000 > "$WORK/death.log" 2>&1 &
pid=$!
victim=
for _ in $(seq 200); do
    for p in $(pgrep -f "^$NNDIST train .*--steps 100000000" || true); do
        if tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then
            victim=$p
        fi
    done
    [ -n "$victim" ] && grep -q "^nndist: " "$WORK/death.log" && break
    sleep 0.1
done
[ -n "$victim" ] || fail "rank 1 of the 2-node run never started: $(cat "$WORK/death.log")"
sleep 1
start=$SECONDS
kill -9 "$victim"
set +e
wait "$pid"
code=$?
set -e
[ $code -ne 0 ] || fail "the job survived the death of a node's rank"
[ $((SECONDS - start)) -lt 10 ] || fail "the job took $((SECONDS - start)) s to end after a node died"
grep -q "rank 1 .*fakenode2\|fakenode2.*rank 1\|rank 1 with PID [0-9]* on node fakenode2" "$WORK/death.log" ||
    fail "the message names neither the rank nor its node: $(cat "$WORK/death.log")"
echo "1 passed, 0 failed"
