#include <catch2/catch.hpp>

#include <list>
#include <numeric>
#include <ranges>

#include "mpi_main.hpp"
#include "tasks.hpp"

namespace {

std::vector<int> squares_of(int n) {
  std::vector<int> ys(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ys[static_cast<std::size_t>(i)] = i * i;
  return ys;
}

std::vector<int> first(int n) {
  std::vector<int> xs(static_cast<std::size_t>(n));
  std::iota(xs.begin(), xs.end(), 0);
  return xs;
}

}  // namespace

TEST_CASE("map returns results in input order for any chunksize", "[map]") {
  auto pool = static_pool();
  const auto xs = first(1000);
  CHECK(pool.map(square, xs) == squares_of(1000));
  CHECK(pool.map(square, xs, {.chunksize = 1}) == squares_of(1000));
  CHECK(pool.map(square, xs, {.chunksize = 7}) == squares_of(1000));
  CHECK(pool.map(square, xs, {.chunksize = 5000}) == squares_of(1000));
}

TEST_CASE("map over an empty input returns an empty vector", "[map]") {
  auto pool = static_pool();
  CHECK(pool.map(square, std::vector<int>{}).empty());
}

TEST_CASE("map takes any input range, sized or not", "[map]") {
  auto pool = static_pool();
  const std::list<int> listed{1, 2, 3};
  CHECK(pool.map(square, listed) == std::vector<int>{1, 4, 9});
  auto evens = std::views::iota(0, 10) | std::views::filter([](int x) { return x % 2 == 0; });
  CHECK(pool.map(square, evens) == std::vector<int>{0, 4, 16, 36, 64});
}

TEST_CASE("map of a void task waits for every item", "[map]") {
  auto pool = static_pool();
  pool.map(touch, first(100));
  SUCCEED("returned after all items ran");
}

TEST_CASE("map of a bool task fills a std::vector<bool>, packed chunks and all", "[map]") {
  auto pool = static_pool();
  const auto flags = pool.map(is_even, first(1000));
  REQUIRE(flags.size() == 1000);
  for (std::size_t i = 0; i < flags.size(); ++i) CHECK(flags[i] == (i % 2 == 0));
}

TEST_CASE("starmap of a task without arguments runs it once per empty tuple", "[map]") {
  auto pool = static_pool();
  CHECK(pool.starmap(answer, std::vector<std::tuple<>>(5)) == std::vector<int>(5, 42));
}

TEST_CASE("map_async returns an async_result of the vector", "[map][async]") {
  auto pool = static_pool();
  auto result = pool.map_async(square, first(500), {.chunksize = 3});
  CHECK(result.get() == squares_of(500));
  CHECK(result.successful());
}

TEST_CASE("starmap unpacks tuples and pairs into arguments", "[map]") {
  auto pool = static_pool();
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < 100; ++i) pairs.emplace_back(i, 1000);
  const auto sums = pool.starmap(add, pairs);
  for (int i = 0; i < 100; ++i) CHECK(sums[static_cast<std::size_t>(i)] == i + 1000);
  const std::vector<std::tuple<double, double>> factors{{1.0, 2.0}, {3.0, 0.5}};
  CHECK(pool.starmap_async(scale, factors).get() == std::vector<double>{2.0, 1.5});
}

TEST_CASE("many maps and applies in flight at once all complete", "[map][async]") {
  auto pool = static_pool();
  std::vector<mpipool::async_result<std::vector<int>>> maps;
  std::vector<mpipool::async_result<int>> applies;
  for (int i = 0; i < 20; ++i) {
    maps.push_back(pool.map_async(square, first(100), {.chunksize = static_cast<std::size_t>(1 + i % 5)}));
    applies.push_back(pool.apply_async(square, i));
  }
  for (auto& m : maps) CHECK(m.get() == squares_of(100));
  for (int i = 0; i < 20; ++i) CHECK(applies[static_cast<std::size_t>(i)].get() == i * i);
}

TEST_CASE("a large map with the default chunksize is correct", "[map]") {
  auto pool = static_pool();
  const auto xs = first(200'000);
  const auto ys = pool.map(square_wide, xs);
  REQUIRE(ys.size() == xs.size());
  CHECK(ys[199'999] == std::int64_t{199'999} * 199'999);
  std::int64_t expected = 0;
  for (std::int64_t x : xs) expected += x * x;
  CHECK(std::accumulate(ys.begin(), ys.end(), std::int64_t{0}) == expected);
}
