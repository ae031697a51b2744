// Counts the solutions of the N-queens puzzle with pools within pools: each task
// places the first queen, then opens a sub-pool that searches the subtrees of
// every second-queen position in parallel. Subtrees differ widely in size; the
// sub-pools split the big ones further, so no worker is left with a giant branch.
// Known answers: N=8 -> 92, N=10 -> 724, N=11 -> 2680, N=12 -> 14200.
//
//   mpirun -n 3 ./queens [N] [sub-pool workers]

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include <mpipool/mpipool.hpp>

namespace {

bool safe(const std::vector<int>& columns, int column) {
  const int row = static_cast<int>(columns.size());
  for (int r = 0; r < row; ++r) {
    const int c = columns[static_cast<std::size_t>(r)];
    if (c == column || row - r == std::abs(column - c)) return false;
  }
  return true;
}

std::uint64_t count_completions(std::vector<int>& columns, int n) {
  if (static_cast<int>(columns.size()) == n) return 1;
  std::uint64_t total = 0;
  for (int c = 0; c < n; ++c) {
    if (!safe(columns, c)) continue;
    columns.push_back(c);
    total += count_completions(columns, n);
    columns.pop_back();
  }
  return total;
}

}  // namespace

/// Solutions below a placement of the first rows (a leaf task).
std::uint64_t count_below(std::vector<int> placed, int n) { return count_completions(placed, n); }
MPIPOOL_TASK(count_below);

/// Solutions with the first queen in `column`; the second rows are searched by a sub-pool.
std::uint64_t count_with_first(int column, int n, int sub_workers) {
  std::vector<std::pair<std::vector<int>, int>> subtrees;
  for (int second = 0; second < n; ++second) {
    if (safe({column}, second)) subtrees.push_back({{column, second}, n});
  }
  mpipool::pool sub(static_cast<std::size_t>(sub_workers), {.spawn = {.soft = true}});
  const auto counts = sub.starmap(count_below, subtrees, {.chunksize = 1});
  return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
}
MPIPOOL_TASK(count_with_first);

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10;
  const int sub_workers = argc > 2 ? std::atoi(argv[2]) : 2;
  return mpipool::run(argc, argv, [&](mpipool::pool& pool) {
    std::vector<std::tuple<int, int, int>> firsts;
    for (int column = 0; column < n; ++column) firsts.emplace_back(column, n, sub_workers);
    const auto counts = pool.starmap(count_with_first, firsts, {.chunksize = 1});
    std::printf("solutions for %d queens: %llu\n", n,
                static_cast<unsigned long long>(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0})));
  });
}
