# The master ends by SIGTERM or SIGKILL, or a worker rank is killed: results already
# received reach their callbacks, the pool goes on where it can, and no process of
# the job is left afterwards.
source "$(dirname "$0")/lib.sh"
job="$BUILD_DIR/tests/programs/long_job"

wait_for_file() {  # wait_for_file <glob> <seconds>
  for _ in $(seq $(( $2 * 20 ))); do
    compgen -G "$1" >/dev/null && return 0
    sleep 0.05
  done
  fail "nothing matched $1 within $2 s"
}

# 1. SIGTERM on the master: every result already received reaches its callback first.
run_job 3 "$job" callbacks
[ "$STATUS" -ne 0 ] || fail "the master was terminated but exited 0"
expect_out "all results received"
[ "$(grep -c '^callback ' "$WORK/out")" -eq 10 ] || { cat "$WORK/out"; fail "callbacks lost at SIGTERM"; }
expect_err "master got signal 15"
expect_no_processes "$job"

# 2. SIGKILL on the master mid-run, under plain mpirun: the runtime ends the job.
mkdir -p "$WORK/kill"
timeout 120 "$MPIEXEC" -n 3 --oversubscribe "$job" work "$WORK/kill" 40 500 >"$WORK/out" 2>&1 &
launcher=$!
wait_for_file "$WORK/kill/rank-*" 30
kill -KILL "$(cat "$WORK/kill/master")"
wait $launcher || true
expect_no_processes "$job"

# The rest runs under --enable-recovery, where a dead rank does not end the job by
# itself; short heartbeats make detection quick.
export MPIPOOL_HEARTBEAT_SECONDS=0.2 MPIPOOL_PEER_TIMEOUT_SECONDS=2
recovery=(--enable-recovery -x MPIPOOL_HEARTBEAT_SECONDS -x MPIPOOL_PEER_TIMEOUT_SECONDS)

# 3. A worker rank killed mid-map: its tasks run again on the others; the job completes.
mkdir -p "$WORK/rank"
timeout 120 "$MPIEXEC" -n 3 --oversubscribe "${recovery[@]}" "$job" work "$WORK/rank" 16 400 >"$WORK/out" 2>"$WORK/err" &
launcher=$!
wait_for_file "$WORK/rank/rank-*" 30
victim=$(basename "$(ls "$WORK/rank"/rank-* | head -n 1)" | cut -d- -f2)
kill -KILL "$victim"
STATUS=0
wait $launcher || STATUS=$?
expect_out "done 16"
expect_err "lost worker rank"
expect_no_processes "$job"

# 4. SIGKILL on the master under --enable-recovery: the workers notice the silence and leave.
mkdir -p "$WORK/orphans"
timeout 120 "$MPIEXEC" -n 3 --oversubscribe "${recovery[@]}" "$job" work "$WORK/orphans" 40 500 >"$WORK/out" 2>"$WORK/err" &
launcher=$!
wait_for_file "$WORK/orphans/rank-*" 30
kill -KILL "$(cat "$WORK/orphans/master")"
wait $launcher || true
expect_no_processes "$job"
echo "ok"
