# Launch mistakes get clear errors: one rank has no workers; master and workers
# built from different registries are rejected when the pool starts.
source "$(dirname "$0")/lib.sh"

run_job 1 "$BUILD_DIR/jobs/primes"
expect_status 1
expect_err "no workers: this job has only 1 rank"
expect_err "mpirun -n 3"

run_job 1 "$BUILD_DIR/tests/programs/mismatch_master" : -n 1 "$BUILD_DIR/tests/programs/mismatch_worker"
expect_status 0
expect_out "registry_mismatch: worker rank 1"
expect_out "same binary"
expect_no_processes "$BUILD_DIR/tests/programs/mismatch_"
echo "ok"
