# The CPU-bound example job gives the known answer, and leaves no process behind.
source "$(dirname "$0")/lib.sh"
job="$BUILD_DIR/jobs/primes"

run_job 3 "$job"
expect_status 0
expect_out "workers: 2"
expect_out "primes below 10000000: 664579"

run_job 2 "$job" 1000000 7
expect_status 0
expect_out "primes below 1000000: 78498"

expect_no_processes "$job"
echo "ok"
