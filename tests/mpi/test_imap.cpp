#include <catch2/catch.hpp>

#include <algorithm>
#include <ranges>

#include "mpi_main.hpp"
#include "tasks.hpp"

TEST_CASE("imap yields results in input order", "[imap]") {
  auto pool = static_pool();
  int expected = 0;
  for (int y : pool.imap(square, std::views::iota(0, 2000))) {
    CHECK(y == expected * expected);
    ++expected;
  }
  CHECK(expected == 2000);
}

TEST_CASE("imap_unordered yields every result once", "[imap]") {
  auto pool = static_pool();
  std::vector<int> seen;
  for (int y : pool.imap_unordered(square, std::views::iota(0, 3000), {.chunksize = 10})) seen.push_back(y);
  std::sort(seen.begin(), seen.end());
  REQUIRE(seen.size() == 3000);
  for (int i = 0; i < 3000; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i * i);
}

TEST_CASE("imap consumes a lazy input larger than its window", "[imap]") {
  auto pool = static_pool();
  std::int64_t total = 0;
  std::int64_t count = 0;
  // The window is chunksize x 512 x workers items; 40000 items exceed it on every rank count tested.
  for (int y : pool.imap_unordered(square, std::views::iota(0, 40'000), {.chunksize = 5})) {
    total += y;
    ++count;
  }
  std::int64_t expected = 0;
  for (std::int64_t x = 0; x < 40'000; ++x) expected += x * x;
  CHECK(count == 40'000);
  CHECK(total == expected);
}

TEST_CASE("an imap item whose task failed throws, and iteration goes on", "[imap][errors]") {
  auto pool = static_pool();
  auto results = pool.imap(fail_on_three, std::views::iota(0, 6));
  int index = 0;
  int failures = 0;
  for (auto it = results.begin(); it != results.end(); ++it, ++index) {
    if (index == 3) {
      CHECK_THROWS_AS(*it, mpipool::remote_error);
      CHECK_FALSE(it.item().ok());
      ++failures;
    } else {
      CHECK(*it == index);
    }
  }
  CHECK(index == 6);
  CHECK(failures == 1);
}

TEST_CASE("leaving an imap loop early cancels the rest of the input", "[imap]") {
  auto pool = static_pool();
  int taken = 0;
  for (int y : pool.imap(square, std::views::iota(0, 100'000'000))) {
    CHECK(y == taken * taken);
    if (++taken == 50) break;
  }
  CHECK(taken == 50);
  // The pool is still usable; destroying it does not wait for 10^8 items.
  CHECK(pool.apply(square, 4) == 16);
}
