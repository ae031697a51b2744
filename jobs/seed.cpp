// The seed program (Python's "pools within pools"), ported faithfully: the main
// process creates a pool of 5 workers; each runs `work`, which creates a pool of
// its own with randint(1, 5) workers that sleep randint(1, 5) seconds each.
// Python needs a non-daemonic Pool subclass for this; here a task simply opens a pool.
//
//   mpirun -n 1 ./seed [seconds-per-unit] [seed]     (or just ./seed)

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <mpipool/mpipool.hpp>

#include "sleepers.hpp"

/// Sleepers sleep; they do not compete for cores, so the pools may share them.
mpipool::pool_options sleeper_pool() {
  mpipool::pool_options options;
  options.initializer = mpipool::call(set_time_scale, sleepers::seconds_per_unit);
  options.spawn.oversubscribe = true;
  return options;
}

std::vector<int> work(int num_procs, unsigned seed) {
  std::printf("Creating %i (daemon) workers and jobs in child.\n", num_procs);
  std::fflush(stdout);
  mpipool::pool pool(static_cast<std::size_t>(num_procs), sleeper_pool());
  return pool.map(sleepawhile, randints(num_procs, seed));
  // The pool's destructor closes it and waits: no zombie grandchildren.
}
MPIPOOL_TASK(work);

int main(int argc, char** argv) try {
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  sleepers::seconds_per_unit = argc > 1 ? std::atof(argv[1]) : 1.0;
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 7;

  std::printf("Creating 5 (non-daemon) workers and jobs in main process.\n");
  std::fflush(stdout);
  mpipool::pool pool(5, sleeper_pool());
  std::vector<std::pair<int, unsigned>> jobs;
  const auto sizes = randints(5, seed);
  for (std::size_t i = 0; i < sizes.size(); ++i) jobs.emplace_back(sizes[i], seed + 1 + static_cast<unsigned>(i));
  const auto result = pool.starmap(work, jobs);

  std::string text = "[";
  for (std::size_t i = 0; i < result.size(); ++i) {
    text += i == 0 ? "[" : ", [";
    for (std::size_t j = 0; j < result[i].size(); ++j) text += (j == 0 ? "" : ", ") + std::to_string(result[i][j]);
    text += "]";
  }
  std::printf("%s]\n", text.c_str());
  return 0;
} catch (const mpipool::error& e) {
  std::fprintf(stderr, "seed: %s\n", e.what());
  return 1;
}
