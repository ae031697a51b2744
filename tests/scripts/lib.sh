# Shared helpers for script tests. CTest sets MPIEXEC, BUILD_DIR and SOURCE_DIR.
set -u
: "${MPIEXEC:=mpirun}"
: "${BUILD_DIR:?BUILD_DIR must point at the build tree}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PMIX_MCA_gds=${PMIX_MCA_gds-hash}  # avoids Open MPI 4.1 + PMIx 4.2's intermittent spawn hang

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run_job <ranks> <program> [args...]: runs it under mpirun; output in $WORK/out and $WORK/err, status in $STATUS.
run_job() {
  local ranks=$1
  shift
  STATUS=0
  timeout 300 "$MPIEXEC" -n "$ranks" --oversubscribe "$@" >"$WORK/out" 2>"$WORK/err" || STATUS=$?
}

expect_status() {
  [ "$STATUS" -eq "$1" ] || { cat "$WORK/out" "$WORK/err" >&2; fail "exit status $STATUS, expected $1"; }
}

expect_out() {
  grep -qF -- "$1" "$WORK/out" || { cat "$WORK/out" "$WORK/err" >&2; fail "stdout lacks: $1"; }
}

expect_err() {
  grep -qF -- "$1" "$WORK/err" || { cat "$WORK/out" "$WORK/err" >&2; fail "stderr lacks: $1"; }
}

# expect_no_processes <pattern>: nothing matching is left running (orphans are bugs).
expect_no_processes() {
  local left
  for _ in $(seq 50); do
    left=$(pgrep -f -- "$1" | grep -v "^$$\$" || true)
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  ps -o pid,ppid,etime,args -p "$(echo "$left" | tr '\n' ',' | sed 's/,$//')" >&2 || true
  fail "processes matching '$1' are still running"
}
