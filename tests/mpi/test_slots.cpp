// The slot ledger. Runs under `mpirun -n 2` with MPIPOOL_SLOTS=3: rank 0 and the
// static worker hold 2 slots, so exactly 1 is free.

#include <catch2/catch.hpp>

#include "mpi_main.hpp"
#include "nested_tasks.hpp"
#include "tasks.hpp"

namespace {
mpipool::pool_options without_lending() { return {.spawn = {.lend_parent_slot = false}}; }
}  // namespace

TEST_CASE("a pool larger than the free slots is refused with where the slots are", "[slots][errors]") {
  mpipool::stop_warm_workers();
  try {
    mpipool::pool pool(2, without_lending());
    FAIL("the pool started");
  } catch (const mpipool::spawn_error& e) {
    const std::string text = e.what();
    CHECK_THAT(text, Catch::Contains("cannot start 2 workers: 1 free slot"));
    CHECK_THAT(text, Catch::Contains("3 slots, 2 in use"));
    CHECK_THAT(text, Catch::Contains("soft") && Catch::Contains("oversubscribe"));
  }
}

TEST_CASE("the caller lends its own slot to its pool", "[slots]") {
  mpipool::stop_warm_workers();
  mpipool::pool pool(2);  // 1 free slot + the master's own
  CHECK(pool.size() == 2);
  CHECK(pool.apply(square, 5) == 25);
}

TEST_CASE("slots held by one pool are not given to another", "[slots]") {
  mpipool::stop_warm_workers();
  mpipool::pool holder(1, without_lending());  // takes the free slot
  auto statics = static_pool();
  CHECK_THAT(statics.apply(subpool_refusal, 1), Catch::Contains("cannot start 1 workers: 0 free slot"));
}

TEST_CASE("soft accepts fewer workers; oversubscribe shares cores on request", "[slots]") {
  mpipool::stop_warm_workers();
  {
    mpipool::pool soft(3, {.spawn = {.soft = true, .lend_parent_slot = false}});
    CHECK(soft.size() == 1);
  }
  mpipool::stop_warm_workers();
  mpipool::pool crowded(4, {.spawn = {.oversubscribe = true, .lend_parent_slot = false}});
  CHECK(crowded.size() == 4);
  CHECK(crowded.map(square, std::vector<int>{1, 2, 3}) == std::vector<int>{1, 4, 9});
}

TEST_CASE("slots come back when a pool ends", "[slots]") {
  mpipool::stop_warm_workers();
  for (int round = 0; round < 3; ++round) {
    mpipool::pool pool(1, {.spawn = {.lend_parent_slot = false, .reuse = false}});
    CHECK(pool.apply(square, round) == round * round);
  }
}

TEST_CASE("a host outside the allocation is refused by name", "[slots][errors]") {
  CHECK_THROWS_WITH(mpipool::pool(1, {.spawn = {.hosts = {"no-such-node"}}}),
                    Catch::Contains("'no-such-node' is not in this job's allocation"));
}
