# Pools within pools, end to end: the seed program, the N-queens search, and jobs
# that fail deep inside nested pools. After each, no process of it may be left.
source "$(dirname "$0")/lib.sh"
jobs="$BUILD_DIR/jobs"

# The seed: 5 workers, each with a pool of randint(1, 5) sleepers.
run_job 1 "$jobs/seed" 0.02 11
expect_status 0
expect_out "Creating 5 (non-daemon) workers and jobs in main process."
[ "$(grep -c '^Creating [1-5] (daemon) workers and jobs in child\.$' "$WORK/out")" -eq 5 ] || fail "expected 5 child pools"
sizes=$(grep '(daemon) workers' "$WORK/out" | awk '{print $2}' | sort | tr '\n' ' ')
result=$(tail -n 1 "$WORK/out")
lengths=$(echo "$result" | python3 -c 'import ast,sys; print(" ".join(str(len(x)) for x in sorted(ast.literal_eval(sys.stdin.read()), key=len)))')
[ "$(echo $sizes)" = "$lengths" ] || fail "child pool sizes ($sizes) do not match the nested result $result"
sleepers=$(grep -c '^Sleeping [1-5] seconds\.\.\.$' "$WORK/out")
total=$(echo "$result" | python3 -c 'import ast,sys; print(sum(len(x) for x in ast.literal_eval(sys.stdin.read())))')
[ "$sleepers" -eq "$total" ] || fail "$sleepers sleepers printed, $total results"
# lib.sh sets PMIX_MCA_gds=hash, so spawning prints no note about the PMIx spawn hang.
! grep -q "mpipool: note" "$WORK/err" || fail "spawned with PMIX_MCA_gds=hash, yet: $(cat "$WORK/err")"
expect_no_processes "$jobs/seed"

# Real work: the N-queens count with sub-pools under every task.
MPIPOOL_SLOTS=6 run_job 3 -x MPIPOOL_SLOTS "$jobs/queens" 10 2
expect_status 0
expect_out "solutions for 10 queens: 724"
expect_no_processes "$jobs/queens"

# An error three levels down reaches the master, and everything exits.
program="$BUILD_DIR/tests/programs/nested_failure"
run_job 1 "$program" deep
expect_status 3
expect_out "boom at depth 3"
expect_out "depth 3"
expect_no_processes "$program"

# The master throws while its workers' sub-pools are busy.
run_job 1 "$program" master
expect_status 2
expect_out "master failed: the master gives up"
expect_no_processes "$program"

# Under a launcher that cannot spawn (srun direct launch), a dynamic pool fails at once.
STATUS=0
SLURM_STEP_ID=0 timeout 60 "$jobs/seed" 0.01 >"$WORK/out" 2>"$WORK/err" || STATUS=$?
expect_status 1
expect_err "launched by srun directly"
expect_err "mpirun inside the allocation"
expect_no_processes "$jobs/seed"
echo "ok"
