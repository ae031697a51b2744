// The seed's sleepawhile example, as far as static pools go: the workers started
// by mpirun each sleep a random 1..5 "seconds" and return the time they slept.
// (jobs/nested_sleepers.cpp is the seed's full program, with pools in pools.)
//
//   mpirun -n 6 ./sleepawhile [tasks] [seconds-per-unit] [seed]

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <mpipool/mpipool.hpp>

#include "sleepers.hpp"

int main(int argc, char** argv) {
  const int tasks = argc > 1 ? std::atoi(argv[1]) : 5;
  const double scale = argc > 2 ? std::atof(argv[2]) : 1.0;
  const unsigned seed = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 2024;
  mpipool::pool_options options;
  options.initializer = mpipool::call(set_time_scale, scale);
  return mpipool::run(
      argc, argv,
      [&](mpipool::pool& pool) {
        const std::vector<int> times = randints(tasks, seed);
        std::printf("Creating %zu workers and %d jobs.\n", pool.size(), tasks);
        std::fflush(stdout);
        const std::vector<int> result = pool.map(sleepawhile, times);
        std::printf("[");
        for (std::size_t i = 0; i < result.size(); ++i) std::printf("%s%d", i == 0 ? "" : ", ", result[i]);
        std::printf("]\n");
      },
      options);
}
