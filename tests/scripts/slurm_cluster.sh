# mpipool's Slurm batch scripts, end to end, on a real local Slurm cluster
# (slurm/local-cluster: nodes n1, n2, n3 on this machine, 2 CPUs each).
source "$(dirname "$0")/lib.sh"
: "${SOURCE_DIR:?}"
templates="$SOURCE_DIR/slurm"
jobs="$BUILD_DIR/jobs"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: the local Slurm cluster needs root to install and start munge, slurmctld and slurmd"
  exit 77
fi
started_here=0
pgrep -f "slurmctld -f /etc/slurm-mpipool" >/dev/null || started_here=1
"$templates/local-cluster" start >"$WORK/cluster.log" 2>&1 || { cat "$WORK/cluster.log"; fail "the local Slurm cluster did not start"; }
# Leave the machine as we found it: a cluster this test started is stopped again.
trap '[ $started_here = 1 ] && "$templates/local-cluster" stop >/dev/null 2>&1; rm -rf "$WORK"' EXIT
eval "$("$templates/local-cluster" env)"
cd "$WORK"

# submit <output name> <sbatch options and script...>: sbatch --wait, status in $STATUS, output in $WORK/out
submit() {
  local name=$1
  shift
  STATUS=0
  timeout 240 sbatch --wait -o "$WORK/$name.out" "$@" >/dev/null 2>"$WORK/sbatch.err" || STATUS=$?
  cp "$WORK/$name.out" "$WORK/out" 2>/dev/null || : >"$WORK/out"
  : >"$WORK/err"
}

# A static pool over the whole allocation: the right answer, one rank per node.
submit primes -N 3 --ntasks-per-node=1 "$templates/static-pool.sbatch" "$jobs/primes"
expect_status 0
expect_out "workers: 2"
expect_out "primes below 10000000: 664579"

submit placement -N 3 --ntasks-per-node=1 "$templates/static-pool.sbatch" "$jobs/where" 0
expect_status 0
expect_out "master on n1, 2 static workers"
expect_out "worker 1 on n2"
expect_out "worker 2 on n3"
expect_out "mpipool: allocation n1: 1 slots, 1 in use; n2: 1 slots, 1 in use; n3: 1 slots, 1 in use"

# Nested pools: one static rank per node, sub-pools in the free slots of their own node.
submit nested -N 3 --ntasks-per-node=2 "$templates/nested-pools.sbatch" "$jobs/where" 2
expect_status 0
expect_out "worker 1 on n2: sub-pool on n2 n2"
expect_out "worker 2 on n3: sub-pool on n3 n3"

# A sub-pool larger than its node spills to the emptiest other node, never past a node's slots.
MPIPOOL_STATIC_RANKS=2 submit spill -N 3 --ntasks-per-node=2 "$templates/nested-pools.sbatch" "$jobs/where" 4
expect_status 0
expect_out "mpipool: allocation n1: 2 slots, 1 in use; n2: 2 slots, 1 in use; n3: 2 slots, 0 in use"
expect_out "worker 1 on n2: sub-pool on n2 n2 n3 n3"

# More sub-pool workers than the allocation has: a clear error, and the job ends.
MPIPOOL_STATIC_RANKS=2 submit too_many -N 3 --ntasks-per-node=2 "$templates/nested-pools.sbatch" "$jobs/where" 6
[ "$STATUS" -ne 0 ] || fail "a job that asked for too many workers succeeded"
expect_out "cannot start 6 workers: 4 free slot(s) plus the caller's own"
expect_out "n3: 2 slots, 0 in use"
expect_no_processes "$jobs/where"

# scancel of a running job with busy sub-pools leaves no process on any node.
job=$(sbatch --parsable -N 3 --ntasks-per-node=2 -o "$WORK/cancel.out" "$templates/nested-pools.sbatch" "$jobs/seed" 2)
for _ in $(seq 300); do
  [ "$(pgrep -fc -- "$jobs/seed 2" || true)" -ge 6 ] && break  # master, workers and sub-pools are up
  sleep 0.1
done
[ "$(pgrep -fc -- "$jobs/seed 2" || true)" -ge 6 ] || { cat "$WORK/cancel.out"; fail "the job to cancel never got going"; }
scancel "$job"
# The job has ended once Slurm has finished killing it (SIGTERM, then SIGKILL after
# KillWait=10 s) and it leaves the queue; mpirun may take seconds of that to exit.
# Whatever still runs after that is an orphan.
for _ in $(seq 300); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.1
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || fail "job $job was still in the queue 30 s after scancel"
expect_no_processes "$jobs/seed 2"

# The benchmark template runs bench/run on the allocation (tiny sizes here).
MPIPOOL_SOURCE="$SOURCE_DIR" MPIPOOL_BUILD="$BUILD_DIR" MPIPOOL_RESULTS="$WORK/bench" \
  submit bench -N 1 --ntasks-per-node=2 "$templates/benchmark.sbatch" --smoke --workers 1
expect_status 0
expect_out "results: $WORK/bench/table.md"
[ -s "$WORK/bench/table.md" ] && [ -s "$WORK/bench/plot.png" ] || fail "the benchmark job wrote no table or plot"

# srun direct launch cannot spawn: a dynamic pool fails at once and says what to do.
STATUS=0
timeout 60 srun -N 1 -n 2 --mpi=pmix "$jobs/seed" 0.01 >"$WORK/out" 2>"$WORK/err" || STATUS=$?
[ "$STATUS" -ne 0 ] || fail "a dynamic pool under srun direct launch succeeded"
grep -q "launched by srun directly" "$WORK/out" "$WORK/err" || fail "no clear srun error"
grep -q "Run mpirun inside the allocation" "$WORK/out" "$WORK/err" || fail "the srun error does not name the fix"
echo "ok"
