# The benchmark suite in seconds (tiny sizes, one run; W1 and W2 of mpipool and raw
# MPI two): it must still run every system and write its CSV, table and plot, so the
# scripts cannot rot. Not a measurement: bench/run without --smoke is.
source "$(dirname "$0")/lib.sh"
: "${SOURCE_DIR:?}"

"$SOURCE_DIR/bench/run" --smoke --build "$BUILD_DIR" --out "$WORK/results" >"$WORK/out" 2>"$WORK/err" ||
  { cat "$WORK/err"; fail "bench/run --smoke failed"; }
for file in results.csv summary.csv table.md plot.png; do
  [ -s "$WORK/results/$file" ] || { cat "$WORK/err"; fail "bench/run wrote no $file"; }
done
# Every system produced numbers for the throughput workload.
for system in mpipool mpipool-direct raw-mpi multiprocessing mpi4py.futures; do
  grep -q "^$system,tasks," "$WORK/results/results.csv" || { cat "$WORK/err"; fail "no W1 result for $system"; }
done
# The quick cases (W1 and W2 of mpipool and raw MPI) run more often than the others,
# and the table says so.
runs_of() { awk -F, -v w="$1" -v s="$2" '$1 == w && $4 == s { sub(/\r$/, "", $7); print $7; exit }' "$WORK/results/summary.csv"; }
[ "$(runs_of roundtrip mpipool)" = 2 ] && [ "$(runs_of roundtrip raw-mpi)" = 2 ] ||
  fail "W2 of mpipool and raw MPI ran $(runs_of roundtrip mpipool) and $(runs_of roundtrip raw-mpi) times, not 2"
[ "$(runs_of tasks mpipool-direct)" = 2 ] || fail "W1 of mpipool-direct ran $(runs_of tasks mpipool-direct) times, not 2"
# W5 prints a row per round (two here) from its one run: runs are counted, not rows.
for case in "roundtrip multiprocessing" "tasks mpi4py.futures" "echo mpipool" "spawn_cold mpipool-direct"; do
  # shellcheck disable=SC2086 # two words: the workload and the system
  [ "$(runs_of $case)" = 1 ] || fail "$case ran $(runs_of $case) times, not 1"
done
grep -q "medians of 1 run(s) per case, 2 for W1 and W2 of mpipool and raw MPI" "$WORK/results/table.md" ||
  fail "the table does not say how many runs its medians take"
# W2's floor for supervised mode: raw MPI through a child process of the worker.
grep -q "^raw-mpi,roundtrip_handoff," "$WORK/results/results.csv" || { cat "$WORK/err"; fail "no W2 handoff floor"; }
grep -q "raw MPI + child" "$WORK/results/table.md" || fail "the table lacks W2's handoff floor"
# And raw MPI at MPI_THREAD_MULTIPLE, the thread level mpipool runs at.
grep -q "^raw-mpi,roundtrip_mt," "$WORK/results/results.csv" || { cat "$WORK/err"; fail "no W2 thread-multiple row"; }
grep -q "raw MPI, thread multiple" "$WORK/results/table.md" || fail "the table lacks W2's thread-multiple baseline"
file "$WORK/results/plot.png" | grep -q "PNG image" || fail "plot.png is not a PNG"
grep -q "## W7" "$WORK/results/table.md" || fail "the table lacks W7"
# --merge rebuilds the outputs from earlier runs' files, running nothing: the same
# numbers as the run itself.
"$SOURCE_DIR/bench/run" --merge "$WORK/results" --out "$WORK/merged" 2>"$WORK/err" ||
  { cat "$WORK/err"; fail "bench/run --merge failed"; }
cmp -s "$WORK/results/summary.csv" "$WORK/merged/summary.csv" || fail "--merge changed the medians"
[ -s "$WORK/merged/plot.png" ] || fail "--merge wrote no plot"
echo "ok"
