// The seed program (Python's "pools within pools"), ported faithfully: the main
// process creates a pool of 5 workers; each runs `work`, which creates a pool of
// its own with randint(1, 5) workers that sleep randint(1, 5) seconds each.
// Python needs a non-daemonic Pool subclass for this; here a task simply opens a pool.
//
//   mpirun -n 1 ./seed [seconds-per-unit] [seed]     (or just ./seed)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

namespace {
double seconds_per_unit = 1.0;  // set in every process by the pools' initializer
}

void set_time_scale(double scale) { seconds_per_unit = scale; }
MPIPOOL_TASK(set_time_scale);

int sleepawhile(int t) {
  std::printf("Sleeping %i seconds...\n", t);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(t * seconds_per_unit));
  return t;
}
MPIPOOL_TASK(sleepawhile);

std::vector<int> randints(int count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> randint(1, 5);
  std::vector<int> values(static_cast<std::size_t>(count));
  for (int& v : values) v = randint(random);
  return values;
}

/// Sleepers sleep; they do not compete for cores, so the pools may share them.
mpipool::pool_options sleeper_pool() {
  mpipool::pool_options options;
  options.initializer = mpipool::call(set_time_scale, seconds_per_unit);
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
  seconds_per_unit = argc > 1 ? std::atof(argv[1]) : 1.0;
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
