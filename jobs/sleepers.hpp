#pragma once
// The seed's sleepawhile task and a time scale for it, shared by the seed's two
// ports (sleepawhile.cpp over static workers, seed.cpp with pools in pools).
// Include it in one source file per program: it registers tasks.

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

namespace sleepers {
/// Seconds one "second" of sleep lasts; tests shrink it. Set in every process by set_time_scale.
inline double seconds_per_unit = 1.0;
}  // namespace sleepers

inline void set_time_scale(double scale) { sleepers::seconds_per_unit = scale; }
MPIPOOL_TASK(set_time_scale);

inline int sleepawhile(int t) {
  std::printf("Sleeping %i seconds...\n", t);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(t * sleepers::seconds_per_unit));
  return t;
}
MPIPOOL_TASK(sleepawhile);

/// `count` values of Python's randint(1, 5), from a seeded generator.
inline std::vector<int> randints(int count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> randint(1, 5);
  std::vector<int> values(static_cast<std::size_t>(count));
  for (int& v : values) v = randint(random);
  return values;
}
