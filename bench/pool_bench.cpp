// mpipool's side of the benchmarks; bench/run drives it beside the peers.
//
//   mpirun -n 3 pool_bench tasks <items> <chunksize|0=default>   items/s
//   mpirun -n 2 pool_bench roundtrip <calls>                       microseconds per apply
//   mpirun -n 3 pool_bench idle <seconds>                          master CPU s / wall s while 2 tasks compute
//   mpirun -n 2 pool_bench spawn <repeats>                          seconds to start a 2-worker sub-pool in a task:
//                                                                   cold, warm, and a bare MPI_Comm_spawn
// Options after the workload: --mode direct|supervised.
// Prints one CSV row: workload,workers,value,unit

#include <sys/resource.h>
#include <unistd.h>

#include <mpi.h>

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

/// Seconds to open a sub-pool of `workers` and run one task on it; warm reuses the last one.
double subpool_start(int workers, bool warm) {
  if (!warm) mpipool::stop_warm_workers();
  const auto start = std::chrono::steady_clock::now();
  mpipool::pool sub(static_cast<std::size_t>(workers), {.spawn = {.oversubscribe = true}});
  const double elapsed = seconds_since(start);
  if (sub.apply(noop, 1) != 1) return -1;
  return elapsed;
}

}  // namespace

MPIPOOL_TASK(noop);
MPIPOOL_TASK(compute_for);
MPIPOOL_TASK(bare_spawn);
MPIPOOL_TASK(subpool_start);

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bare-child") == 0) return bare_child(argc, argv);
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
  } else if (workload == "subroundtrip") {
    // Round trips to spawned workers (TCP between parent and children).
    mpipool::pool sub(1, {.mode = options.mode, .spawn = {.oversubscribe = true}});
    for (int i = 0; i < 100; ++i) sub.apply(noop, i);
    const long calls = arg(2, 2000);
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) sub.apply(noop, static_cast<int>(i));
    std::printf("subroundtrip,1,%.3f,us\n", seconds_since(start) / static_cast<double>(calls) * 1e6);
  } else if (workload == "spawn") {
    const long repeats = arg(2, 5);
    for (long r = 0; r < repeats; ++r) {
      // Each measured inside a task on a static worker, as a nested pool would be.
      std::printf("spawn_bare,%d,%.4f,s\n", workers, pool.apply(bare_spawn, 2));
      std::printf("spawn_cold,%d,%.4f,s\n", workers, pool.apply(subpool_start, 2, false));
      std::printf("spawn_warm,%d,%.6f,s\n", workers, pool.apply(subpool_start, 2, true));
    }
  }
  return 0;
}
