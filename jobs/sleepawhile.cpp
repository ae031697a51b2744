// The seed's sleepawhile example, as far as static pools go: the workers started
// by mpirun each sleep a random 1..5 "seconds" and return the time they slept.
// (jobs/nested_sleepers.cpp is the seed's full program, with pools in pools.)
//
//   mpirun -n 6 ./sleepawhile [tasks] [seconds-per-unit] [seed]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

namespace {
double seconds_per_unit = 1.0;  // set on every process by the initializer
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

int main(int argc, char** argv) {
  const int tasks = argc > 1 ? std::atoi(argv[1]) : 5;
  const double scale = argc > 2 ? std::atof(argv[2]) : 1.0;
  const unsigned seed = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 2024;
  mpipool::pool_options options;
  options.initializer = mpipool::call(set_time_scale, scale);
  return mpipool::run(
      argc, argv,
      [&](mpipool::pool& pool) {
        std::mt19937 random(seed);
        std::uniform_int_distribution<int> randint(1, 5);
        std::vector<int> times(static_cast<std::size_t>(tasks));
        for (int& t : times) t = randint(random);
        std::printf("Creating %zu workers and %d jobs.\n", pool.size(), tasks);
        std::fflush(stdout);
        const std::vector<int> result = pool.map(sleepawhile, times);
        std::printf("[");
        for (std::size_t i = 0; i < result.size(); ++i) std::printf("%s%d", i == 0 ? "" : ", ", result[i]);
        std::printf("]\n");
      },
      options);
}
