// mpipool's side of the benchmarks. bench/run drives it beside the peers; every
// workload prints CSV rows: workload,param,workers,value,unit
//
//   mpirun -n W+1 pool_bench tasks <items> <chunksize|0=default>   W1: items/s
//   mpirun -n 2   pool_bench roundtrip <calls>                      W2: microseconds per apply
//   mpirun -n W+1 pool_bench balance <tasks> <mean ms> <seed>       W3: makespan / ideal
//   mpirun -n 2   pool_bench echo <MiB> <repeats>                   W4: GB/s (bytes there and back / s)
//   mpirun -n 2   pool_bench spawn <repeats>                        W5: seconds: bare spawn, cold, warm sub-pool
//   mpirun -n 3   pool_bench idle <seconds>                         W6: master CPU s / wall s
//   mpirun -n W+1 pool_bench imap_memory <items> <chunksize>        W7: master peak RSS in MiB
// Add --mode direct|supervised (default supervised).

#include <sys/resource.h>
#include <unistd.h>

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ranges>
#include <string>
#include <vector>

#include <mpipool/mpipool.hpp>

#include "workloads.hpp"

namespace {

int noop(int x) { return x; }

std::vector<double> echo(std::vector<double> data) { return data; }

/// Computes (does not sleep) for `seconds`.
double compute_for(double seconds) { return bench::busy_for(seconds); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/// A bare spawned child: MPI_Init, answer one ping, leave. No mpipool at all.
int bare_child(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  int ping = 0;
  MPI_Recv(&ping, 1, MPI_INT, 0, 0, parent, MPI_STATUS_IGNORE);
  MPI_Send(&ping, 1, MPI_INT, 0, 0, parent);
  MPI_Comm_disconnect(&parent);
  MPI_Finalize();
  return 0;
}

/// Seconds for MPI_Comm_spawn of `workers` bare children plus one ping to each.
double bare_spawn(int workers) {
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  path[length > 0 ? length : 0] = '\0';
  char flag[] = "--bare-child";
  char* child_argv[] = {flag, nullptr};
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "map_by", ":OVERSUBSCRIBE");
  const auto start = std::chrono::steady_clock::now();
  MPI_Comm children = MPI_COMM_NULL;
  MPI_Comm_spawn(path, child_argv, workers, info, 0, MPI_COMM_SELF, &children, MPI_ERRCODES_IGNORE);
  for (int w = 0; w < workers; ++w) {
    int ping = w;
    MPI_Send(&ping, 1, MPI_INT, w, 0, children);
    MPI_Recv(&ping, 1, MPI_INT, w, 0, children, MPI_STATUS_IGNORE);
  }
  const double elapsed = seconds_since(start);
  MPI_Comm_disconnect(&children);
  MPI_Info_free(&info);
  return elapsed;
}

/// Seconds until a fresh sub-pool of `workers` has answered its first task; warm reuses
/// the last one. The sub-pool runs in the mode of the benchmark's pool.
double subpool_start(int workers, bool warm, bool direct) {
  if (!warm) mpipool::stop_warm_workers();
  const auto start = std::chrono::steady_clock::now();
  mpipool::pool sub(static_cast<std::size_t>(workers),
                    {.mode = direct ? mpipool::execution::direct : mpipool::execution::supervised,
                     .spawn = {.oversubscribe = true}});
  if (sub.apply(noop, 1) != 1) return -1;
  return seconds_since(start);
}

}  // namespace

MPIPOOL_TASK(noop);
MPIPOOL_TASK(echo);
MPIPOOL_TASK(compute_for);
MPIPOOL_TASK(bare_spawn);
MPIPOOL_TASK(subpool_start);

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bare-child") == 0) return bare_child(argc, argv);
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  const std::string workload = argc > 1 ? argv[1] : "tasks";
  auto arg = [&](int i, double fallback) { return argc > i && argv[i][0] != '-' ? std::atof(argv[i]) : fallback; };
  mpipool::pool_options options;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0 && std::strcmp(argv[i + 1], "direct") == 0) {
      options.mode = mpipool::execution::direct;
    }
  }
  mpipool::pool pool(env, options);
  const int workers = static_cast<int>(pool.size());

  if (workload == "tasks") {
    const auto items = static_cast<std::size_t>(arg(2, 200000));
    const auto chunksize = static_cast<std::size_t>(arg(3, 1));
    std::vector<int> xs(items, 7);
    bool complete = true;
    const double rate = bench::steady_rate(static_cast<double>(items), [&] {
      const auto start = std::chrono::steady_clock::now();
      const auto ys = pool.map(noop, xs, {.chunksize = chunksize});
      complete = complete && ys.size() == xs.size();
      return seconds_since(start);
    });
    if (!complete) return 1;
    std::printf("tasks,%zu,%d,%.1f,items/s\n", chunksize, workers, rate);
  } else if (workload == "roundtrip") {
    const auto calls = static_cast<long>(arg(2, 10000));
    for (int i = 0; i < 200; ++i) pool.apply(noop, i);  // warm-up
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) {
      if (pool.apply(noop, static_cast<int>(i)) != i) return 1;
    }
    std::printf("roundtrip,1,%d,%.3f,us\n", workers, seconds_since(start) / static_cast<double>(calls) * 1e6);
  } else if (workload == "balance") {
    const auto durations = bench::exponential_durations(static_cast<int>(arg(2, 2000)), arg(3, 2.0) / 1000.0,
                                                        static_cast<unsigned>(arg(4, 42)));
    const auto start = std::chrono::steady_clock::now();
    pool.map(compute_for, durations, {.chunksize = 1});
    const double makespan = seconds_since(start);
    std::printf("balance,%zu,%d,%.4f,makespan/ideal\n", durations.size(), workers,
                makespan / bench::ideal_makespan(durations, workers));
  } else if (workload == "echo") {
    const auto mib = static_cast<std::size_t>(arg(2, 64));
    const int repeats = static_cast<int>(arg(3, 3));
    std::vector<double> data(mib * (std::size_t{1} << 20) / sizeof(double), 1.5);
    const std::size_t size = data.size();
    std::vector<double> rates;
    // Two echoes warm up: the buffers of the first are still in flight when the second
    // allocates, so both fault their pages in (0.05 and 0.2 to 0.6 GB/s at 64 MiB on
    // the 2-core VM, then a steady 2.5 to 3.5); raw MPI reuses one buffer.
    constexpr int warmups = 2;
    for (int r = 0; r < repeats + warmups; ++r) {
      const auto start = std::chrono::steady_clock::now();
      // Passed as an rvalue, as a program that hands its array over does: the
      // vector's own memory is sent (an lvalue is copied first: the call may outlive it).
      data = pool.apply(echo, std::move(data));
      const double seconds = seconds_since(start);
      if (data.size() != size || data[size / 2] != 1.5) return 1;
      if (r >= warmups) rates.push_back(2.0 * static_cast<double>(mib << 20) / seconds / 1e9);
    }
    std::printf("echo,%zu,%d,%.3f,GB/s\n", mib, workers, bench::median(rates));
  } else if (workload == "spawn") {
    const int repeats = static_cast<int>(arg(2, 3));
    for (int r = 0; r < repeats; ++r) {
      // Measured inside a task on a static worker, as a nested pool would start. A bare
      // MPI_Comm_spawn needs MPI in the task, so only direct mode can measure it.
      if (options.mode == mpipool::execution::direct) {
        std::printf("spawn_bare,2,%d,%.4f,s\n", workers, pool.apply(bare_spawn, 2));
      }
      const bool direct = options.mode == mpipool::execution::direct;
      std::printf("spawn_cold,2,%d,%.4f,s\n", workers, pool.apply(subpool_start, 2, false, direct));
      std::printf("spawn_warm,2,%d,%.6f,s\n", workers, pool.apply(subpool_start, 2, true, direct));
    }
  } else if (workload == "idle") {
    const double seconds = arg(2, 5);
    const double cpu_before = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    auto a = pool.apply_async(compute_for, seconds);
    auto b = pool.apply_async(compute_for, seconds);
    a.get();
    b.get();
    const double wall = seconds_since(start);
    std::printf("idle,%g,%d,%.4f,cpu/wall\n", seconds, workers, (process_cpu_seconds() - cpu_before) / wall);
  } else if (workload == "imap_memory") {
    const auto items = static_cast<long>(arg(2, 1000000));
    const auto chunksize = static_cast<std::size_t>(arg(3, 100));
    long long total = 0;
    for (int y : pool.imap_unordered(noop, std::views::iota(0L, items) | std::views::transform([](long i) {
                                               return static_cast<int>(i % 1000);
                                             }),
                                     {.chunksize = chunksize})) {
      total += y;
    }
    if (total != items / 1000 * 499500) return 1;
    std::printf("imap_memory,%ld,%d,%.1f,MiB\n", items, workers, bench::peak_rss_mib());
  }
  return 0;
}
