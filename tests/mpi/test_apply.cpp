#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "mpi_main.hpp"
#include "tasks.hpp"

using namespace std::chrono_literals;

TEST_CASE("apply runs a task on a worker and returns its result", "[apply]") {
  auto pool = static_pool();
  CHECK(pool.apply(square, 7) == 49);
  CHECK(pool.apply(add, 2, 40) == 42);
  CHECK(pool.apply(scale, 1.5, 4) == 6.0);  // int converts to the task's double parameter
  CHECK(pool.apply(shout, std::string("hey")) == "hey!");
  pool.apply(touch, 1);  // void tasks work
}

TEST_CASE("arguments and results of every supported kind travel intact", "[apply][serialization]") {
  auto pool = static_pool();
  CHECK(pool.apply(iota_vector, 5) == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(pool.apply(count_words, std::vector<std::string>{"a", "b", "a"}) ==
        std::map<std::string, int>{{"a", 2}, {"b", 1}});
  CHECK(pool.apply(pair_up, std::pair<int, std::string>{3, "ab"}) == std::tuple<int, std::string>{6, "abab"});
  CHECK(pool.apply(maybe_half, 8) == std::optional<int>(4));
  CHECK(pool.apply(maybe_half, 7) == std::nullopt);
  CHECK(pool.apply(summarize, measurement{"run", {1.0, 2.0, 3.0}}) == measurement{"run:sum", {6.0}});
}

TEST_CASE("the work is spread over the static workers", "[apply]") {
  auto pool = static_pool();
  REQUIRE(pool.size() == static_cast<std::size_t>(test_environment().size() - 1));
  std::vector<int> ranks = pool.map(worker_rank, std::vector<int>(200, 0), {.chunksize = 1});
  for (int rank : ranks) {
    CHECK(rank >= 1);
    CHECK(rank < test_environment().size());
  }
}

TEST_CASE("apply_async returns at once and its result arrives", "[apply][async]") {
  auto pool = static_pool();
  auto result = pool.apply_async(sleep_ms, 1000);
  CHECK_FALSE(result.ready());  // the task sleeps a full second
  CHECK(result.wait(60s));
  CHECK(result.ready());
  CHECK(result.successful());
  CHECK(result.get() == 1000);
  CHECK(result.get() == 1000);  // get() may be called again
}

TEST_CASE("get with a timeout throws timeout_error when the result is late", "[apply][async]") {
  auto pool = static_pool();
  auto result = pool.apply_async(sleep_ms, 2000);
  CHECK_THROWS_AS(result.get(10ms), mpipool::timeout_error);
  CHECK_FALSE(result.wait(1ms));
  CHECK_THROWS_AS(result.successful(), mpipool::error);  // as in Python: not ready yet
  CHECK(result.get(60s) == 2000);
}

TEST_CASE("callbacks run on the progress thread while the master's own code is busy", "[apply][async]") {
  auto pool = static_pool();
  std::atomic<int> delivered{0};
  std::atomic<bool> errored{false};
  auto ok = pool.apply_async(square, 9).then([&](int y) { delivered = y; });
  auto bad = pool.apply_async(fail_on, 1, 1).then([](int) {}, [&](const mpipool::error&) { errored = true; });
  // The master computes without touching the pool; the callbacks must still run.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  volatile double spin = 0;
  while ((delivered.load() == 0 || !errored.load()) && std::chrono::steady_clock::now() < deadline) spin = spin + 1;
  CHECK(delivered.load() == 81);
  CHECK(errored.load());
}

TEST_CASE("after a loop of waits, a callback still runs while the master's own code is busy", "[apply][async]") {
  auto pool = static_pool();
  // Waits that keep coming put the progress thread to rest between them; work left
  // out with nobody waiting must still end that rest.
  for (int i = 0; i < 500; ++i) REQUIRE(pool.apply(square, i) == i * i);
  std::atomic<int> delivered{0};
  auto later = pool.apply_async(square, 12).then([&](int y) { delivered = y; });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  volatile double spin = 0;
  while (delivered.load() == 0 && std::chrono::steady_clock::now() < deadline) spin = spin + 1;
  CHECK(delivered.load() == 144);
}

TEST_CASE("a callback attached after completion runs at once", "[apply][async]") {
  auto pool = static_pool();
  auto result = pool.apply_async(square, 3);
  result.wait();
  int seen = 0;
  result.then([&](int y) { seen = y; });
  CHECK(seen == 9);
}

TEST_CASE("an initializer runs on every worker before its first task", "[apply][initializer]") {
  mpipool::pool_options options;
  options.initializer = mpipool::call(set_worker_tag, std::string("initialized"));
  auto pool = static_pool(options);
  const auto tags = pool.map(worker_tag, std::vector<int>(64, 0), {.chunksize = 1});
  for (const auto& tag : tags) CHECK(tag == "initialized");
}

TEST_CASE("a pool can be opened again after the previous one closed", "[lifecycle]") {
  for (int round = 0; round < 3; ++round) {
    auto pool = static_pool();
    CHECK(pool.apply(square, round) == round * round);
  }
}
