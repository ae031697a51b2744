// An idle loop's backoff: spin first, then naps, except while something it must
// keep moving is in flight (backoff::stay_awake_while).

#include <catch2/catch.hpp>

#include <chrono>

#include "backoff.hpp"

using mpipool::detail::backoff;

namespace {

/// Waits until the backoff's spinning phase is over: it asks for a nap.
void spin_until_nap_due(backoff& idle) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (idle.next_sleep().count() == 0) REQUIRE(std::chrono::steady_clock::now() < give_up);
}

}  // namespace

TEST_CASE("a backoff naps once its spinning phase is over", "[backoff]") {
  backoff idle;
  spin_until_nap_due(idle);
  CHECK(idle.next_sleep().count() > 0);
}

TEST_CASE("a backoff does not nap while what it keeps moving is in flight", "[backoff]") {
  bool moving = false;
  backoff idle;
  idle.stay_awake_while([&] { return moving; });
  spin_until_nap_due(idle);

  moving = true;
  int naps = 0;
  for (int round = 0; round < 1000; ++round) naps += idle.next_sleep().count() > 0 ? 1 : 0;
  CHECK(naps == 0);

  moving = false;
  spin_until_nap_due(idle);  // past its spin already: the next ask is a nap again
  CHECK(idle.next_sleep().count() > 0);
}
