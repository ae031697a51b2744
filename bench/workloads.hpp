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

/// W1's measurement, the same in every system (bench/peers/workloads.py too): full-size
/// runs warm up for at least warmup_seconds, then up to timed_runs runs (fewer if
/// they exceed timed_seconds together, at least one) are timed, and the median
/// counts. A process's first runs touch their buffers' pages for the first time,
/// which on the 2-core VM costs about 12 us a page: the first 200,000-item maps took
/// 1 to 15 ms where later ones take 0.3 to 0.8. `run` returns its own seconds.
inline constexpr double warmup_seconds = 0.2;
inline constexpr double timed_seconds = 2.0;
inline constexpr int timed_runs = 5;

template <class Run>
double steady_rate(double items, Run run) {
  for (double warm = 0; warm < warmup_seconds;) warm += run();
  std::vector<double> rates;
  double timed = 0;
  while (rates.empty() || (static_cast<int>(rates.size()) < timed_runs && timed < timed_seconds)) {
    const double seconds = run();
    timed += seconds;
    rates.push_back(items / seconds);
  }
  return median(rates);
}

inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace bench
