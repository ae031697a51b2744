#include <catch2/catch.hpp>

#include <unistd.h>

#include "mpi_main.hpp"
#include "tasks.hpp"

namespace {
int never_registered(int x) { return x; }
}  // namespace

TEST_CASE("a task's exception reaches the master as remote_error with its origin", "[errors]") {
  auto pool = static_pool();
  try {
    pool.apply(fail_on, 5, 5);
    FAIL("no exception");
  } catch (const mpipool::remote_error& e) {
    CHECK(e.exception_type() == "std::domain_error");
    CHECK(e.message() == "item 5 is bad");
    CHECK(e.task() == "fail_on");
    CHECK(e.rank() >= 1);
    CHECK(e.rank() < test_environment().size());
    CHECK_FALSE(e.host().empty());
    CHECK(e.trace().size() == 1);
    CHECK(e.trace()[0].depth == 1);
  }
  // The pool keeps working after a task failed.
  CHECK(pool.apply(square, 6) == 36);
}

TEST_CASE("in a packed chunk, each failed item fails alone and map throws the first by index", "[errors][map]") {
  for (auto mode : {mpipool::execution::supervised, mpipool::execution::direct}) {
    auto pool = static_pool({.mode = mode});
    // 3000 items in chunks of 750 (the default here) or 1000; items 999, 1999 and 2999 throw.
    std::vector<int> xs(3000);
    std::vector<std::pair<int, int>> pairs(3000);
    for (int i = 0; i < 3000; ++i) {
      const bool bad = i % 1000 == 999;
      xs[static_cast<std::size_t>(i)] = bad ? 3 : i + 10;
      pairs[static_cast<std::size_t>(i)] = {i, bad ? i : -1};
    }
    for (std::size_t chunksize : {std::size_t{0}, std::size_t{1000}}) {
      const auto outcomes = pool.map_outcomes(fail_on_three, xs, {.chunksize = chunksize});
      REQUIRE(outcomes.size() == 3000);
      int failed = 0;
      for (std::size_t i = 0; i < outcomes.size(); ++i) {
        if (xs[i] == 3) {
          ++failed;
          CHECK_THAT(outcomes[i].message(), Catch::Contains("item 3 is bad"));
        } else {
          CHECK(outcomes[i].value() == xs[i]);
        }
      }
      CHECK(failed == 3);
      CHECK_THROWS_WITH(pool.starmap(fail_on, pairs, {.chunksize = chunksize}), Catch::Contains("item 999 is bad"));
    }
  }
}

TEST_CASE("a non-standard exception is reported too", "[errors]") {
  auto pool = static_pool();
  CHECK_THROWS_WITH(pool.apply(throw_non_std, 1), Catch::Contains("not derived from std::exception"));
}

TEST_CASE("map rethrows the first failed item's error; the rest were computed", "[errors][map]") {
  auto pool = static_pool();
  std::vector<int> xs(100);
  for (int i = 0; i < 100; ++i) xs[static_cast<std::size_t>(i)] = i;
  CHECK_THROWS_WITH(pool.map(fail_on_three, xs, {.chunksize = 1}), Catch::Contains("item 3 is bad"));
  const auto outcomes = pool.map_outcomes(fail_on_three, xs, {.chunksize = 4});
  REQUIRE(outcomes.size() == 100);
  for (int i = 0; i < 100; ++i) {
    const auto& item = outcomes[static_cast<std::size_t>(i)];
    if (i == 3) {
      CHECK_FALSE(item.ok());
      CHECK_THAT(item.message(), Catch::Contains("item 3 is bad"));
      CHECK_THROWS_AS(item.value(), mpipool::remote_error);
    } else {
      CHECK(item.ok());
      CHECK(item.value() == i);
    }
  }
}

TEST_CASE("calling an unregistered function is unknown_task naming the fix", "[errors]") {
  auto pool = static_pool();
  CHECK_THROWS_AS(pool.apply(never_registered, 1), mpipool::unknown_task);
  CHECK_THROWS_WITH(pool.map(never_registered, std::vector<int>{1}), Catch::Contains("MPIPOOL_TASK"));
  CHECK(pool.apply(square, 2) == 4);
}

TEST_CASE("a result the master cannot deserialize fails that task only", "[errors][serialization]") {
  auto pool = static_pool();
  CHECK(pool.apply(make_fragile, 4).value == 4);
  CHECK_THROWS_AS(pool.apply(make_fragile, -1), mpipool::serialization_error);
  const auto outcomes = pool.map_outcomes(make_fragile, std::vector<int>{1, -2, 3});
  CHECK(outcomes[0].ok());
  CHECK_FALSE(outcomes[1].ok());
  CHECK(outcomes[2].ok());
}

TEST_CASE("a closed pool refuses new work with pool_closed", "[errors][lifecycle]") {
  auto pool = static_pool();
  auto pending = pool.apply_async(sleep_ms, 100);
  pool.close();
  CHECK_THROWS_AS(pool.apply(square, 1), mpipool::pool_closed);
  CHECK_THROWS_WITH(pool.map(square, std::vector<int>{1}), Catch::Contains("closed"));
  pool.join();
  CHECK(pending.get() == 100);  // work submitted before close() still completes
}

TEST_CASE("join without close is an error, as in Python", "[errors][lifecycle]") {
  auto pool = static_pool();
  CHECK_THROWS_WITH(pool.join(), Catch::Contains("close()"));
}

TEST_CASE("terminate fails unfinished tasks with pool_closed and frees the workers", "[lifecycle]") {
  {
    auto pool = static_pool();
    std::vector<int> waits(40, 200);
    auto slow = pool.map_async(sleep_ms, waits, {.chunksize = 1});
    pool.terminate();
    CHECK_THROWS_AS(slow.get(), mpipool::pool_closed);
    CHECK_THROWS_AS(pool.apply(square, 1), mpipool::pool_closed);
  }
  auto next = static_pool();
  CHECK(next.apply(square, 5) == 25);
}

TEST_CASE("two pools of the static workers cannot be open at once", "[errors][lifecycle]") {
  auto pool = static_pool();
  CHECK_THROWS_WITH(static_pool(), Catch::Contains("already open"));
}
