// A reader waiting on a ring wakes for bytes whether they come while it spins or
// after it went to sleep, with either way of spinning.

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <thread>

#include "shm_ring.hpp"

using mpipool::detail::shm_ring;
using mpipool::detail::spin_style;
using namespace std::chrono_literals;

namespace {

/// Waits for one byte with `style`, while another thread writes it after `delay`;
/// returns how long the wait took.
std::chrono::steady_clock::duration wait_for_byte(spin_style style, std::chrono::milliseconds delay) {
  shm_ring ring(4096);
  std::thread writer([&] {
    std::this_thread::sleep_for(delay);
    const std::array<std::byte, 1> one{std::byte{42}};
    REQUIRE(ring.write_some(one) == 1);
  });
  const auto start = std::chrono::steady_clock::now();
  while (ring.readable() == 0) ring.wait_readable(10s, 30us, style);
  const auto waited = std::chrono::steady_clock::now() - start;
  writer.join();
  std::array<std::byte, 1> got{};
  CHECK(ring.read_some(got) == 1);
  CHECK(got[0] == std::byte{42});
  return waited;
}

}  // namespace

TEST_CASE("a reader wakes for bytes written while it spins or after it sleeps, yielding or pausing", "[shm_ring]") {
  for (const auto style : {spin_style::pause_first, spin_style::yield_only}) {
    for (const auto delay : {0ms, 50ms}) {
      // The wait's timeout is 10 s: a reader that missed the wake-up would sit it out.
      CHECK(wait_for_byte(style, delay) < 5s);
    }
  }
}
