// Ends a job with an error deep inside nested pools, so a test can check that no
// process of it survives.
//   nested_failure deep     a task three levels down throws; the error reaches the master (exit 3)
//   nested_failure master   the master throws while tasks are busy in their sub-pools (exit 2)

#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

int fail_deep(int depth) {
  if (mpipool::nesting_depth() >= depth) throw std::runtime_error("boom at depth 3");
  mpipool::pool sub(2, {.spawn = {.oversubscribe = true}});
  return sub.map(fail_deep, std::vector<int>{depth, depth}).front();
}
MPIPOOL_TASK(fail_deep);

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
MPIPOOL_TASK(nap);

int busy_subpool(int ms) {
  mpipool::pool sub(2, {.spawn = {.oversubscribe = true}});
  return sub.map(nap, std::vector<int>{ms, ms}).front();
}
MPIPOOL_TASK(busy_subpool);

int main(int argc, char** argv) {
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  const bool deep = argc > 1 && std::strcmp(argv[1], "deep") == 0;
  try {
    mpipool::pool pool(2, {.spawn = {.oversubscribe = true}});
    if (deep) {
      pool.map(fail_deep, std::vector<int>{3, 3});
      return 0;
    }
    auto pending = pool.map_async(busy_subpool, std::vector<int>{300, 300, 300, 300});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // sub-pools are running now
    throw std::runtime_error("the master gives up");
  } catch (const mpipool::remote_error& e) {
    std::printf("caught: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::printf("master failed: %s\n", e.what());
    return 2;
  }
}
