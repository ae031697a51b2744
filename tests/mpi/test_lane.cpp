// The lane (src/lane.hpp): a supervised worker bound to one core lets its task
// process take small chunks straight from the master, and answer the same way.
// This binary counts the tasks messages the master sends over MPI (send_spy.hpp) to
// see which way chunks went. Runs with every rank bound to a core (see CMakeLists).

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu_affinity.hpp"
#include "fault_tasks.hpp"
#include "mpi_main.hpp"
#include "send_spy.hpp"
#include "tasks.hpp"
#include "wire.hpp"

namespace {
std::atomic<std::uint64_t> task_messages{0};

std::vector<int> inputs(int n) {
  std::vector<int> xs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) xs[static_cast<std::size_t>(i)] = i;
  return xs;
}

/// A supervised pool whose lanes are up: the master maps a lane when its worker's
/// offer arrives, which follows the worker's ready; one round trip lets it in.
mpipool::pool pool_with_lanes() {
  auto pool = static_pool({.mode = mpipool::execution::supervised});
  REQUIRE(pool.apply(square, 2) == 4);
  return pool;
}
}  // namespace

void spy_on_send(const void*, int, int tag) {
  // A large one goes split: its header carries the tag with split_flag.
  if ((tag & ~mpipool::detail::wire::split_flag) == mpipool::detail::wire::tag_tasks) ++task_messages;
}

TEST_CASE("the ranks of this test are bound to one core each, where lanes are used", "[lane]") {
  INFO("the test registration binds ranks to cores (OMPI_MCA_hwloc_base_binding_policy); a launcher ignored it");
  REQUIRE(mpipool::detail::bound_to_one_core());
}

TEST_CASE("small chunks of a supervised pool take the lane, not MPI", "[lane]") {
  auto pool = pool_with_lanes();
  task_messages = 0;
  for (int i = 0; i < 200; ++i) REQUIRE(pool.apply(square, i) == i * i);
  const auto xs = inputs(3000);
  const auto ys = pool.map(square, xs, {.chunksize = 1});
  for (int x : xs) REQUIRE(ys[static_cast<std::size_t>(x)] == x * x);
  CHECK(pool.map(shout, std::vector<std::string>(50, "lane")) == std::vector<std::string>(50, "lane!"));
  CHECK(task_messages.load() == 0);
}

TEST_CASE("a chunk too large for the lane goes over MPI", "[lane]") {
  auto pool = pool_with_lanes();
  // 32 KiB: too large for a lane frame, small enough to share a tasks message; 64 KiB: a message of its own.
  for (const std::size_t size : {32 * 1024, 64 * 1024}) {
    task_messages = 0;
    const std::string large(size, 'a');
    CHECK(pool.apply(shout, large) == large + "!");
    CHECK(task_messages.load() == 1);
  }
}

// Registered again with MPIPOOL_LANE=0, and only then run (see CMakeLists).
TEST_CASE("with MPIPOOL_LANE=0 every chunk of a supervised pool goes over MPI", "[no-lane]") {
  auto pool = pool_with_lanes();
  task_messages = 0;
  for (int i = 0; i < 20; ++i) REQUIRE(pool.apply(square, i) == i * i);
  CHECK(task_messages.load() == 20);
}

TEST_CASE("a task that crashes in a lane chunk fails alone; the others still answer", "[lane]") {
  auto pool = pool_with_lanes();
  task_messages = 0;
  const auto xs = inputs(1000);
  const auto outcomes = pool.map_outcomes(double_or_crash, xs, {.chunksize = 1});
  int crashed = 0;
  for (int x : xs) {
    const auto& outcome = outcomes[static_cast<std::size_t>(x)];
    if (!chosen_to_crash(x)) {
      REQUIRE(outcome.ok());
      REQUIRE(outcome.value() == 2 * x);
      continue;
    }
    ++crashed;
    REQUIRE_THROWS_AS(std::rethrow_exception(outcome.error()), mpipool::worker_lost);
  }
  CHECK(crashed > 0);
  // Most chunks took the lane; those sent while a replacement's lane was on its way took MPI.
  CHECK(task_messages.load() < 200);
  // The replacement task process has a lane of its own.
  task_messages = 0;
  for (int i = 0; i < 100; ++i) REQUIRE(pool.apply(square, i) == i * i);
  CHECK(task_messages.load() <= 1);  // the offer may come one call after the first
}

TEST_CASE("a lane chunk that runs past its timeout fails, and the worker serves on", "[lane]") {
  auto pool = pool_with_lanes();
  CHECK_THROWS_WITH(pool.apply({.timeout = std::chrono::milliseconds(200)}, sleep_ms, 60'000),
                    Catch::Contains("timeout of 200 ms"));
  CHECK(pool.apply(square, 7) == 49);
}

TEST_CASE("the next pool reuses the idle task process and its lane", "[lane]") {
  long first_pid = 0;
  {
    auto first = pool_with_lanes();
    for (int i = 0; i < 50; ++i) REQUIRE(first.apply(square, i) == i * i);
    first_pid = first.apply(task_process_id, 0);
  }
  auto second = pool_with_lanes();
  task_messages = 0;
  for (int i = 0; i < 50; ++i) REQUIRE(second.apply(square, i) == i * i);
  CHECK(task_messages.load() == 0);
  CHECK(second.apply(task_process_id, 0) == first_pid);
}
