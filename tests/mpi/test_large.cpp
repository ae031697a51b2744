// Large arrays as arguments and results. In direct mode a large vector result
// leaves from the task's own memory (borrowed_bytes.hpp) as a part of a split
// message; these tests check that every byte arrives, next to small results in the
// same message, and with parts smaller than the array (MPIPOOL_MAX_MESSAGE_BYTES).

#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "mpi_main.hpp"

namespace {

/// start, start + 1, ...: every element differs, so a misplaced byte shows.
std::vector<double> ramp(std::uint64_t count, double start) {
  std::vector<double> values(count);
  for (std::uint64_t i = 0; i < count; ++i) values[i] = start + static_cast<double>(i);
  return values;
}
MPIPOOL_TASK(ramp);

std::vector<double> reversed(std::vector<double> values) {
  return {values.rbegin(), values.rend()};
}
MPIPOOL_TASK(reversed);

std::vector<std::int16_t> ramp_short(std::uint64_t count) {
  std::vector<std::int16_t> values(count);
  for (std::uint64_t i = 0; i < count; ++i) values[i] = static_cast<std::int16_t>(i % 30000);
  return values;
}
MPIPOOL_TASK(ramp_short);

/// A large ramp, or an error for a negative count.
std::vector<double> ramp_or_fail(std::int64_t count) {
  if (count < 0) throw std::invalid_argument("negative count");
  return ramp(static_cast<std::uint64_t>(count), 1.0);
}
MPIPOOL_TASK(ramp_or_fail);

bool is_ramp(const std::vector<double>& values, std::uint64_t count, double start) {
  if (values.size() != count) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (values[i] != start + static_cast<double>(i)) return false;
  }
  return true;
}

constexpr std::uint64_t large = 400'000;  // 3.2 MB of doubles: above the borrowing threshold

}  // namespace

TEST_CASE("a large vector result arrives intact in both modes", "[large]") {
  for (auto mode : {mpipool::execution::direct, mpipool::execution::supervised}) {
    auto pool = static_pool({.mode = mode});
    CHECK(is_ramp(pool.apply(ramp, large, 0.5), large, 0.5));
    const auto shorts = pool.apply(ramp_short, std::uint64_t{1} << 20);
    REQUIRE(shorts.size() == std::size_t{1} << 20);
    CHECK(shorts[29999] == 29999);
    CHECK(shorts[30000] == 0);
    CHECK(shorts.back() == static_cast<std::int16_t>(((std::size_t{1} << 20) - 1) % 30000));
  }
}

TEST_CASE("large and small results share a results message", "[large]") {
  auto pool = static_pool({.mode = mpipool::execution::direct});
  const std::vector<std::uint64_t> counts{3, large, 0, large + 1, 7, large / 2};
  std::vector<std::tuple<std::uint64_t, double>> calls;
  for (std::size_t i = 0; i < counts.size(); ++i) calls.emplace_back(counts[i], 1000.0 * static_cast<double>(i));
  // One chunk: its results go back to the master as one message.
  const auto results = pool.starmap(ramp, calls, {.chunksize = calls.size()});
  REQUIRE(results.size() == counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    INFO("item " << i);
    CHECK(is_ramp(results[i], counts[i], 1000.0 * static_cast<double>(i)));
  }
}

TEST_CASE("a large vector makes the round trip", "[large]") {
  const auto values = ramp(large, -7.0);
  for (auto mode : {mpipool::execution::direct, mpipool::execution::supervised}) {
    auto pool = static_pool({.mode = mode});
    const auto back = pool.apply(reversed, values);
    REQUIRE(back.size() == values.size());
    CHECK(back.front() == values.back());
    CHECK(back.back() == values.front());
    CHECK(pool.apply(reversed, back) == values);
  }
}

TEST_CASE("a failing item between large results fails alone", "[large][errors]") {
  auto pool = static_pool({.mode = mpipool::execution::direct});
  const std::vector<std::int64_t> counts{large, -1, large + 2};
  const auto outcomes = pool.map_outcomes(ramp_or_fail, counts, {.chunksize = counts.size()});
  REQUIRE(outcomes.size() == 3);
  REQUIRE(outcomes[0]);
  CHECK(is_ramp(outcomes[0].value(), large, 1.0));
  REQUIRE_FALSE(outcomes[1]);
  CHECK_THROWS_WITH(outcomes[1].value(), Catch::Contains("negative count"));
  REQUIRE(outcomes[2]);
  CHECK(is_ramp(outcomes[2].value(), large + 2, 1.0));
}
