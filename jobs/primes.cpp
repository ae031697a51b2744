// Counts the primes below a limit (default 10^7; the answer is 664579), split into
// blocks that the pool's workers sieve in parallel.
//
//   mpirun -n 3 ./primes [limit] [blocks]

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

#include <mpipool/mpipool.hpp>

/// Primes in [low, high), by a segmented sieve with the small primes up to sqrt(high).
std::uint64_t count_primes(std::uint64_t low, std::uint64_t high) {
  if (high <= 2 || low >= high) return 0;
  const auto root = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(high))) + 1;
  std::vector<bool> small_composite(root + 1, false);
  std::vector<bool> composite(high - low, false);
  for (std::uint64_t p = 2; p <= root; ++p) {
    if (small_composite[p]) continue;
    for (std::uint64_t m = p * p; m <= root; m += p) small_composite[m] = true;
    for (std::uint64_t m = std::max(p * p, (low + p - 1) / p * p); m < high; m += p) composite[m - low] = true;
  }
  std::uint64_t count = 0;
  for (std::uint64_t n = std::max<std::uint64_t>(low, 2); n < high; ++n) count += composite[n - low] ? 0 : 1;
  return count;
}
MPIPOOL_TASK(count_primes);

int main(int argc, char** argv) {
  return mpipool::run(argc, argv, [&](mpipool::pool& pool) {
    const std::uint64_t limit = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
    const std::uint64_t blocks = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 64;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (std::uint64_t b = 0; b < blocks; ++b) ranges.emplace_back(limit * b / blocks, limit * (b + 1) / blocks);
    const auto counts = pool.starmap(count_primes, ranges);
    const auto total = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
    std::printf("workers: %zu\nblocks: %llu\nprimes below %llu: %llu\n", pool.size(),
                static_cast<unsigned long long>(blocks), static_cast<unsigned long long>(limit),
                static_cast<unsigned long long>(total));
  });
}
