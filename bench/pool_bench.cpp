// mpipool's side of the benchmarks; bench/run drives it beside the peers.
//
//   mpirun -n 3 pool_bench tasks <items> <chunksize|0=default>   items/s
//   mpirun -n 2 pool_bench roundtrip <calls>                       microseconds per apply
//   mpirun -n 3 pool_bench idle <seconds>                          master CPU s / wall s while 2 tasks compute
// Options after the workload: --mode direct|supervised.
// Prints one CSV row: workload,workers,value,unit

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <mpipool/mpipool.hpp>

namespace {

int noop(int x) { return x; }

/// Computes (does not sleep) for `seconds`.
double compute_for(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  double x = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1000; ++i) x = x * 0.999 + 1.0;
  }
  return x;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

MPIPOOL_TASK(noop);
MPIPOOL_TASK(compute_for);

int main(int argc, char** argv) {
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  const std::string workload = argc > 1 ? argv[1] : "tasks";
  auto arg = [&](int i, long fallback) { return argc > i && argv[i][0] != '-' ? std::atol(argv[i]) : fallback; };
  mpipool::pool_options options;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0) {
      options.mode = std::strcmp(argv[i + 1], "direct") == 0 ? mpipool::execution::direct
                                                              : mpipool::execution::supervised;
    }
  }
  mpipool::pool pool(env, options);
  const int workers = static_cast<int>(pool.size());
  if (workload == "tasks") {
    const long items = arg(2, 200000);
    const auto chunksize = static_cast<std::size_t>(arg(3, 1));
    std::vector<int> xs(static_cast<std::size_t>(items), 7);
    pool.map(noop, std::vector<int>(1000, 1));  // warm-up
    const auto start = std::chrono::steady_clock::now();
    const auto ys = pool.map(noop, xs, {.chunksize = chunksize});
    const double rate = static_cast<double>(items) / seconds_since(start);
    if (ys.size() != xs.size()) return 1;
    std::printf("tasks,%d,%.1f,items/s\n", workers, rate);
  } else if (workload == "roundtrip") {
    const long calls = arg(2, 10000);
    for (int i = 0; i < 100; ++i) pool.apply(noop, i);  // warm-up
    std::vector<double> each(static_cast<std::size_t>(calls));
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) {
      const auto call_start = std::chrono::steady_clock::now();
      if (pool.apply(noop, static_cast<int>(i)) != i) return 1;
      each[static_cast<std::size_t>(i)] = seconds_since(call_start) * 1e6;
    }
    const double mean = seconds_since(start) / static_cast<double>(calls) * 1e6;
    std::sort(each.begin(), each.end());
    std::fprintf(stderr, "roundtrip p50 %.2f us, p90 %.2f us, p99 %.2f us, max %.1f us\n", each[each.size() / 2],
                 each[each.size() * 9 / 10], each[each.size() * 99 / 100], each.back());
    std::printf("roundtrip,%d,%.3f,us\n", workers, mean);
  } else if (workload == "idle") {
    const double seconds = static_cast<double>(arg(2, 5));
    const double cpu_before = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    auto a = pool.apply_async(compute_for, seconds);
    auto b = pool.apply_async(compute_for, seconds);
    a.get();
    b.get();
    const double wall = seconds_since(start);
    std::printf("idle,%d,%.4f,cpu/wall\n", workers, (process_cpu_seconds() - cpu_before) / wall);
  }
  return 0;
}
