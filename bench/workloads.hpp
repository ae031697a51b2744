#pragma once
// What the benchmark programs share, so every system runs the same work:
// the task durations of W3 (the same generator as bench/peers/workloads.py), busy
// work, and the measurements.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace bench {

/// Exponentially distributed durations in seconds, from a 64-bit LCG with a fixed seed.
inline std::vector<double> exponential_durations(int count, double mean_seconds, unsigned seed) {
  std::uint64_t state = seed;
  std::vector<double> durations(static_cast<std::size_t>(count));
  for (double& d : durations) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(state >> 11) * 0x1.0p-53;
    d = -mean_seconds * std::log(1.0 - u);
  }
  return durations;
}

/// The makespan a perfect scheduler with no overhead would reach.
inline double ideal_makespan(const std::vector<double>& durations, int workers) {
  double total = 0;
  double longest = 0;
  for (double d : durations) {
    total += d;
    longest = std::max(longest, d);
  }
  return std::max(total / workers, longest);
}

/// Computes, without sleeping, for `seconds`.
inline double busy_for(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  double x = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 100; ++i) x = x * 0.999 + 1.0;
  }
  return x;
}

inline double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace bench
