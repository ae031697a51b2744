// Pools within pools. Runs under `mpirun -n 2`: rank 0 and one static worker.

#include <catch2/catch.hpp>

#include <algorithm>
#include <unistd.h>

#include "mpi_main.hpp"
#include "nested_tasks.hpp"
#include "tasks.hpp"

namespace {
mpipool::pool_options shared_cores() { return {.spawn = {.oversubscribe = true}}; }
}  // namespace

namespace {
std::size_t distinct(std::vector<long> values) {
  std::sort(values.begin(), values.end());
  return static_cast<std::size_t>(std::unique(values.begin(), values.end()) - values.begin());
}
}  // namespace

TEST_CASE("supervised tasks run in a task process under each rank; direct ones in the ranks", "[nested]") {
  // Each supervised task process has its own rank as parent; direct ranks share their launcher.
  mpipool::pool supervised(2, shared_cores());
  CHECK(distinct(supervised.map(rank_process_id, std::vector<int>(60, 0), {.chunksize = 1})) == 2);
  mpipool::pool direct(2, {.mode = mpipool::execution::direct, .spawn = {.oversubscribe = true, .reuse = false}});
  CHECK(distinct(direct.map(process_id, std::vector<int>(60, 0), {.chunksize = 1})) == 2);
  CHECK(distinct(direct.map(rank_process_id, std::vector<int>(60, 0), {.chunksize = 1})) == 1);
}

TEST_CASE("a pool without initializer takes over the idle task processes of the last one", "[lifecycle]") {
  auto task_processes = [](mpipool::pool&& pool) {
    auto pids = pool.map(process_id, std::vector<int>(40, 0), {.chunksize = 1});
    std::sort(pids.begin(), pids.end());
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
    return pids;
  };
  const auto first = task_processes(static_pool());
  CHECK(task_processes(static_pool()) == first);  // no fork for the second pool
  // An initializer must run in a fresh process, as with Python's Pool.
  mpipool::pool_options initialized;
  initialized.initializer = mpipool::call(set_worker_tag, std::string("fresh"));
  for (long pid : task_processes(static_pool(initialized))) {
    CHECK(std::find(first.begin(), first.end(), pid) == first.end());
  }
}

TEST_CASE("a dynamic pool spawns its workers and runs tasks on them", "[nested]") {
  mpipool::pool pool(3, shared_cores());
  CHECK(pool.size() == 3);
  CHECK(pool.map(square, std::vector<int>{1, 2, 3, 4}) == std::vector<int>{1, 4, 9, 16});
  const auto pids = pool.map(process_id, std::vector<int>(60, 0), {.chunksize = 1});
  for (long pid : pids) CHECK(pid != static_cast<long>(::getpid()));
}

TEST_CASE("a task opens a pool of its own: two levels", "[nested]") {
  auto pool = static_pool();
  const auto results = pool.map(squares_in_subpool, std::vector<int>{1, 2});
  CHECK(results[0] == std::vector<int>{0, 1, 4});
  CHECK(results[1] == std::vector<int>{0, 1, 4, 9, 16, 25});
}

TEST_CASE("pools nest three levels deep", "[nested]") {
  auto pool = static_pool();
  auto depths = pool.apply(depths_below, 2);
  std::sort(depths.begin(), depths.end());
  // One task at depth 1, two at depth 2, four at depth 3.
  CHECK(depths == std::vector<int>{1, 2, 2, 3, 3, 3, 3});
}

TEST_CASE("an error two levels down reaches the top with its whole path", "[nested][errors]") {
  auto pool = static_pool();
  try {
    pool.apply(fail_at_depth, 3);
    FAIL("no exception");
  } catch (const mpipool::remote_error& e) {
    CHECK(e.exception_type() == "std::runtime_error");
    CHECK(e.message() == "failed at depth 3");
    REQUIRE(e.trace().size() == 3);
    CHECK(e.trace()[0].depth == 3);
    CHECK(e.trace()[1].depth == 2);
    CHECK(e.trace()[2].depth == 1);
    for (const auto& hop : e.trace()) CHECK(hop.task == "fail_at_depth");
  }
  CHECK_THROWS_WITH(pool.apply(fail_at_depth, 2), Catch::Contains("failed at depth 2"));
  CHECK(pool.apply(square, 3) == 9);  // the pool survives
}

TEST_CASE("a second pool of the same size reuses the warm workers", "[nested][warm]") {
  // The worker ranks are reused; each session forks fresh task processes under them.
  std::vector<long> first;
  std::vector<long> second;
  {
    mpipool::pool pool(2, shared_cores());
    first = pool.map(rank_process_id, std::vector<int>(40, 0), {.chunksize = 1});
  }
  {
    mpipool::pool pool(2, shared_cores());
    second = pool.map(rank_process_id, std::vector<int>(40, 0), {.chunksize = 1});
  }
  std::sort(first.begin(), first.end());
  first.erase(std::unique(first.begin(), first.end()), first.end());
  std::sort(second.begin(), second.end());
  second.erase(std::unique(second.begin(), second.end()), second.end());
  CHECK(first.size() == 2);
  CHECK(first == second);
  // Inside a task too: the worker's second sub-pool reuses the first one's processes.
  auto pool = static_pool();
  CHECK(pool.apply(subpool_pids, 2) == pool.apply(subpool_pids, 2));
}

TEST_CASE("a warm pool is not reused after it was released", "[nested][warm]") {
  std::vector<long> first;
  {
    mpipool::pool pool(2, shared_cores());
    first = pool.map(rank_process_id, std::vector<int>(10, 0), {.chunksize = 1});
  }
  mpipool::stop_warm_workers();
  mpipool::pool pool(2, shared_cores());
  for (long pid : pool.map(rank_process_id, std::vector<int>(10, 0), {.chunksize = 1})) {
    CHECK(std::find(first.begin(), first.end(), pid) == first.end());
  }
}

TEST_CASE("runaway recursion stops at the depth limit with a clear error", "[nested][errors]") {
  auto pool = static_pool();
  CHECK_THROWS_WITH(pool.apply(recurse_forever, 1),
                    Catch::Contains("depth limit") && Catch::Contains("MPIPOOL_MAX_DEPTH"));
}
