// Reports where a job's processes run: every static worker opens a sub-pool and
// each sub-pool worker answers with its node (SLURMD_NODENAME under Slurm). Use it
// to see how mpipool places nested pools in an allocation.
//
//   mpirun -n <ranks> ./where [sub-pool workers, 0 for none]
// Prints "worker R on NODE: sub-pool on NODE NODE ..." per static worker.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

std::string node_here() {
  const char* slurm = std::getenv("SLURMD_NODENAME");
  if (slurm != nullptr) return slurm;
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

/// Held long enough that every sub-pool worker gets exactly one (idle workers are served first).
std::string node_of_worker(int hold_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  return node_here();
}
MPIPOOL_TASK(node_of_worker);

std::string report(int sub_workers) {
  if (sub_workers == 0) return node_here();
  std::string line = node_here() + ": sub-pool on";
  mpipool::pool sub(static_cast<std::size_t>(sub_workers));
  for (const auto& node : sub.map(node_of_worker, std::vector<int>(sub.size(), 200), {.chunksize = 1})) {
    line += " " + node;
  }
  return line;
}
MPIPOOL_TASK(report);

int main(int argc, char** argv) {
  const int sub_workers = argc > 1 ? std::atoi(argv[1]) : 2;
  return mpipool::run(argc, argv, [&](mpipool::pool& pool) {
    std::printf("master on %s, %zu static workers\n", node_here().c_str(), pool.size());
    const auto lines = pool.map(report, std::vector<int>(pool.size(), sub_workers), {.chunksize = 1});
    for (std::size_t r = 0; r < lines.size(); ++r) std::printf("worker %zu on %s\n", r + 1, lines[r].c_str());
  });
}
