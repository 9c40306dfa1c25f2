# Shared by the script tests: run nndist under mpirun, fail with a message, temp dirs.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Keep every rank single-threaded: tests check results, not speed, and run oversubscribed.
export OMP_NUM_THREADS=1
: "${NNDIST:?set by ctest}" "${MPIEXEC:=mpirun}"

WORK=$(mktemp -d /tmp/nndist-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# until_exists GLOB [SECONDS]: wait (default 30 s) for a file matching GLOB; 1 on a timeout.
until_exists() {
    local tenths=$((${2:-30} * 10))
    for _ in $(seq "$tenths"); do compgen -G "$1" > /dev/null && return 0; sleep 0.1; done
    compgen -G "$1" > /dev/null
}

# run NP ARGS...: nndist under mpirun with NP ranks (a 120 s bound turns a hang into a failure).
run() {
    local np=$1; shift
    timeout -k 5 120 "$MPIEXEC" -np "$np" --oversubscribe --bind-to none "$NNDIST" "$@"
}

# interrupted_run_fixture: for the tests that stop a run and resume it: the dataset, the command
# line in `common` (600 steps, a checkpoint every 100) and the uninterrupted run's model
# $WORK/full.h5 that every resumed run must equal bitwise.
interrupted_run_fixture() {
    "$MAKE_DATASET" "$WORK/train.h5" 3000 40 5 3
    common=(train --data "$WORK/train.h5" --layers 40,64,32,5 --batch 30 --lr 0.05
            --optimizer momentum --steps 600 --checkpoint-every 100 --no-progress)
    run 2 "${common[@]}" --checkpoint-dir "$WORK/full" --save "$WORK/full.h5" > /dev/null ||
        fail "uninterrupted run failed"
}

# reference_cases REF DATA TOL [HOOK]: the PyTorch reference trajectories of REF/cases.txt (one
# line per case: name, a tab, its nndist flags, optionally a tab and a value for HOOK; the line
# named "common" holds the flags every case shares). Each case trains at 1 and 2 ranks from
# DATA/data.h5 and DATA/init.h5 and its model is compared with REF/<name>.h5 to TOL relative
# (max |a - b| / max |a|); HOOK NAME NP VALUE then runs with the model in $WORK/NAME-NP.h5, and
# counts its own failures in ref_failed. Sets ref_cases and ref_failed.
reference_cases() {
    local ref=$1 data=$2 tol=$3 hook=${4:-} common name flags value np out
    [ -f "$ref/cases.txt" ] || fail "$ref/cases.txt is missing"
    common=$(awk -F'\t' '$1 == "common" { print $2 }' "$ref/cases.txt")
    [ -n "$common" ] || fail "cases.txt has no common line"
    ref_cases=0 ref_failed=0
    while IFS=$'\t' read -r name flags value; do
        case "$name" in '#'* | common | '') continue ;; esac
        ref_cases=$((ref_cases + 1))
        for np in 1 2; do
            # shellcheck disable=SC2086 # the flags are words
            run $np train --data "$data/data.h5" --init "$data/init.h5" $common $flags \
                --no-progress --save "$WORK/$name-$np.h5" < /dev/null > "$WORK/$name-$np.log" 2>&1 ||
                fail "$name at $np rank(s): training failed: $(tail -n 3 "$WORK/$name-$np.log")"
            if out=$("$COMPARE_MODELS" "$ref/$name.h5" "$WORK/$name-$np.h5" "$tol"); then
                printf '%-28s np=%d  %s\n' "$name" "$np" "${out#compare: }"
            else
                printf 'FAIL %-23s np=%d  %s\n' "$name" "$np" "${out#compare: }"
                ref_failed=$((ref_failed + 1))
            fi
            [ -z "$hook" ] || "$hook" "$name" "$np" "$value"
        done
    done < "$ref/cases.txt"
}

# refused SAYS ARGS...: `nndist ARGS --steps 1` at 2 ranks is refused: exit 2, one message
# (naming SAYS), on every rank alike.
refused() {
    local says=$1 rc=0
    shift
    run 2 "$@" --steps 1 < /dev/null > "$WORK/refused.log" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "exit $rc (expected 2) for: $*"
    grep -qF -- "$says" "$WORK/refused.log" || fail "for $*: $(cat "$WORK/refused.log")"
    [ "$(grep -c 'nndist: error' "$WORK/refused.log")" -eq 1 ] || fail "not one message: $*"
}

# sweep_fold1_reproduced LOG OUT WORDS: the sweep whose output is LOG and --out OUT printed a
# command for its best configuration's fold 1 that holds WORDS (" --dropout 0.5 ", say); run at
# 2 ranks, its last validation loss is the one the sweep recorded in OUT/folds.csv. Prints it.
sweep_fold1_reproduced() {
    local log=$1 out=$2 words=$3 cmd want got
    cmd=$(grep -A1 '^reproduce its fold 1' "$log" | tail -n 1)
    case "$cmd" in *"$words"*) ;; *) fail "the sweep's command lacks '$words': $cmd" ;; esac
    # shellcheck disable=SC2086 # the command's words
    run 2 ${cmd#*nndist } --metrics "$WORK/fold1-m.csv" < /dev/null > "$WORK/fold1.log" 2>&1 ||
        fail "the sweep's command failed: $(tail -n 3 "$WORK/fold1.log")"
    want=$(awk -F, '$5 == 1 { print $7 }' "$out/folds.csv")
    got=$(tail -n 1 "$WORK/fold1-m.csv" | cut -d, -f6)
    [ -n "$want" ] && [ "$want" = "$got" ] ||
        fail "fold 1's validation loss: the sweep $want, its train command $got"
    echo "$want"
}
