# The seed's sleepawhile example over static workers: every sleeper reports, and the
# results come back in input order.
source "$(dirname "$0")/lib.sh"
job="$BUILD_DIR/jobs/sleepawhile"

run_job 6 "$job" 5 0.05 7
expect_status 0
expect_out "Creating 5 workers and 5 jobs."
[ "$(grep -c '^Sleeping [1-5] seconds\.\.\.$' "$WORK/out")" -eq 5 ] || fail "expected 5 sleepers"
result=$(grep '^\[' "$WORK/out")
slept=$(grep '^Sleeping' "$WORK/out" | awk '{print $2}' | sort | tr '\n' ' ')
returned=$(echo "$result" | tr -d '[],' | tr ' ' '\n' | sort | tr '\n' ' ')
[ "$slept" = "$returned" ] || fail "results $result do not match the sleepers ($slept)"
expect_no_processes "$job"
echo "ok"
