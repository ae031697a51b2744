#include <cstdio>
#include <numeric>
#include <vector>

#include <mpipool/mpipool.hpp>

int square(int x) { return x * x; }
MPIPOOL_TASK(square);

int main(int argc, char** argv) {
  return mpipool::run(argc, argv, [](mpipool::pool& pool) {
    std::vector<int> xs(10);
    std::iota(xs.begin(), xs.end(), 1);
    const auto ys = pool.map(square, xs);
    std::printf("sum of squares 1..10 = %d\n", std::accumulate(ys.begin(), ys.end(), 0));
  });
}
