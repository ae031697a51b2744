// Large arrays as arguments and results. In direct mode a large vector result
// leaves from the task's own memory (borrowed_bytes.hpp) as a part of a split
// message, and so does a large vector the master passes as an rvalue; these tests
// check that every byte arrives, next to small results in the same message, after
// a retry, and with parts smaller than the array (MPIPOOL_MAX_MESSAGE_BYTES).

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
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

/// a, then b, each element times `scale`.
std::vector<double> concat_scaled(std::vector<double> a, std::vector<double> b, double scale) {
  a.insert(a.end(), b.begin(), b.end());
  for (auto& value : a) value *= scale;
  return a;
}
MPIPOOL_TASK(concat_scaled);

std::string crash_marker(std::int64_t key) {
  return (std::filesystem::temp_directory_path() / ("mpipool-large-crash-" + std::to_string(key))).string();
}

/// As reversed, but the first attempt for `key` kills its process.
std::vector<double> reversed_crashing_once(std::vector<double> values, std::int64_t key) {
  const int fd = ::open(crash_marker(key).c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd >= 0) {
    ::close(fd);
    std::abort();
  }
  return {values.rbegin(), values.rend()};
}
MPIPOOL_TASK(reversed_crashing_once);

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
  // A direct worker sends large vectors from their own memory; a supervised rank
  // relays its task process's results.
  for (auto mode : {mpipool::execution::direct, mpipool::execution::supervised}) {
    INFO("mode " << static_cast<int>(mode));
    auto pool = static_pool({.mode = mode});
    const std::vector<std::uint64_t> counts{3, large, 0, large + 1, 7, large / 2, 10'000};
    std::vector<std::tuple<std::uint64_t, double>> calls;
    for (std::size_t i = 0; i < counts.size(); ++i) calls.emplace_back(counts[i], 1000.0 * static_cast<double>(i));
    // One chunk: its results go back to the master in as few messages as they fit.
    const auto results = pool.starmap(ramp, calls, {.chunksize = calls.size()});
    REQUIRE(results.size() == counts.size());
    for (std::size_t i = 0; i < counts.size(); ++i) {
      INFO("item " << i);
      CHECK(is_ramp(results[i], counts[i], 1000.0 * static_cast<double>(i)));
    }
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

bool is_reversed_ramp(const std::vector<double>& values, std::uint64_t count, double start) {
  return is_ramp(std::vector<double>(values.rbegin(), values.rend()), count, start);
}

TEST_CASE("a large vector passed as an rvalue is sent from its own memory and arrives intact", "[large]") {
  for (auto mode : {mpipool::execution::direct, mpipool::execution::supervised}) {
    INFO("mode " << static_cast<int>(mode));
    auto pool = static_pool({.mode = mode});
    auto values = ramp(large, 3.0);
    const auto back = pool.apply(reversed, std::move(values));
    CHECK(values.empty());  // adopted by the call, not copied from (an lvalue is copied and left alone)
    CHECK(is_reversed_ramp(back, large, 3.0));

    // apply_async owns what it adopted: the temporary is gone long before the result.
    auto pending = pool.apply_async(reversed, ramp(large + 5, -2.0));
    CHECK(is_reversed_ramp(pending.get(), large + 5, -2.0));

    // Two adopted vectors and a number in one call, and a small rvalue, which is copied.
    const auto joined = pool.apply(concat_scaled, ramp(large, 1.0), ramp(large / 2, 7.0), 0.5);
    REQUIRE(joined.size() == large + large / 2);
    CHECK(joined[1] == 1.0);
    CHECK(joined[large - 1] == 0.5 * static_cast<double>(large));
    CHECK(joined[large] == 3.5);
    CHECK(joined.back() == 0.5 * (7.0 + static_cast<double>(large / 2 - 1)));
    CHECK(pool.apply(concat_scaled, ramp(3, 1.0), std::vector<double>{}, 2.0) == std::vector<double>{2.0, 4.0, 6.0});
  }
}

TEST_CASE("an adopted vector is sent again after its task process crashed", "[large][faults]") {
  auto pool = static_pool({.mode = mpipool::execution::supervised});
  const std::int64_t key = ::getpid();
  std::filesystem::remove(crash_marker(key));
  const auto back = pool.apply({.retries = 1}, reversed_crashing_once, ramp(large, 11.0), key);
  CHECK(std::filesystem::exists(crash_marker(key)));  // the first attempt did crash
  CHECK(is_reversed_ramp(back, large, 11.0));
  std::filesystem::remove(crash_marker(key));
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
