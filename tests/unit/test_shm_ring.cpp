// A reader waiting on a ring wakes for bytes whether they come while it spins or
// after it went to sleep, with either way of spinning; a reader that only yields
// goes to sleep when nobody takes its core, instead of spinning on.

#include <catch2/catch.hpp>

#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <thread>

#include "shm_ring.hpp"

using mpipool::detail::shm_ring;
using mpipool::detail::spin_style;
using namespace std::chrono_literals;

namespace {

std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

struct waited {
  std::chrono::steady_clock::duration wall;
  std::chrono::nanoseconds cpu;
};

/// Waits for one byte with `style` and a spin of `spin`, while another thread writes
/// it after `delay`; the wait's timeout is 10 s.
waited wait_for_byte(spin_style style, std::chrono::microseconds spin, std::chrono::milliseconds delay) {
  shm_ring ring(4096);
  std::size_t written = 0;
  std::thread writer([&] {
    std::this_thread::sleep_for(delay);
    const std::array<std::byte, 1> one{std::byte{42}};
    written = ring.write_some(one);
  });
  const auto start = std::chrono::steady_clock::now();
  const auto cpu_start = thread_cpu_time();
  while (ring.readable() == 0) ring.wait_readable(10s, spin, style);
  const waited took{std::chrono::steady_clock::now() - start, thread_cpu_time() - cpu_start};
  writer.join();
  CHECK(written == 1);
  std::array<std::byte, 1> got{};
  CHECK(ring.read_some(got) == 1);
  CHECK(got[0] == std::byte{42});
  return took;
}

}  // namespace

TEST_CASE("a reader wakes for bytes written while it spins or after it sleeps, yielding or pausing", "[shm_ring]") {
  for (const auto style : {spin_style::pause_first, spin_style::yield_only}) {
    for (const auto delay : {0ms, 50ms}) {
      // A reader that missed the wake-up would sit out its 10 s timeout.
      CHECK(wait_for_byte(style, 30us, delay).wall < 5s);
    }
  }
}

TEST_CASE("a waiter stops handing its core over after two yields in a row that switched to nobody",
          "[shm_ring]") {
  using mpipool::detail::shared_core_yield;
  const auto to_nobody = shared_core_yield::switch_at_least / 2;
  const auto to_someone = shared_core_yield::switch_at_least * 3;
  shared_core_yield handover;
  CHECK(handover.yielded(to_someone));
  CHECK(handover.yielded(to_nobody));
  CHECK(handover.yielded(to_someone));  // a switch between them starts the count again
  CHECK(handover.yielded(to_nobody));
  CHECK_FALSE(handover.yielded(to_nobody));
}

/// The fastest of a few hundred sched_yield calls, timed as shared_core_yield times them.
std::chrono::steady_clock::duration fastest_yield() {
  auto fastest = std::chrono::steady_clock::duration::max();
  for (int i = 0; i < 300; ++i) {
    const auto before = std::chrono::steady_clock::now();
    std::this_thread::yield();
    fastest = std::min(fastest, std::chrono::steady_clock::now() - before);
  }
  return fastest;
}

TEST_CASE("a reader that only yields sleeps once nobody takes its core", "[shm_ring]") {
  // Where a yield to nobody takes about as long as a switch (a slow clock source,
  // heavy mitigations, valgrind), the reader cannot tell the two apart and spins on.
  if (fastest_yield() >= mpipool::detail::shared_core_yield::switch_at_least * 3 / 4) {
    WARN("skipped: sched_yield to nobody is too slow here to tell from a switch");  // see tests/CMakeLists.txt
    return;
  }
  // A spin of 5 s: a reader that kept yielding while the writer sleeps would burn the
  // 100 ms until the byte comes; one that sleeps burns next to none. The bound leaves
  // room for another process yielding in a tight loop on the reader's core, where the
  // two take turns and the reader, rightly yielding on, gets half of the core.
  const auto took = wait_for_byte(spin_style::yield_only, 5s, 100ms);
  CHECK(took.wall < 5s);
  CHECK(took.cpu < took.wall / 2 + 10ms);
}

TEST_CASE("closing a ring wakes a reader that only yields", "[shm_ring]") {
  shm_ring ring(4096);
  std::thread closer([&] {
    std::this_thread::sleep_for(20ms);
    ring.close();
  });
  const auto start = std::chrono::steady_clock::now();
  while (!ring.at_end()) ring.wait_readable(10s, 30us, spin_style::yield_only);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  closer.join();
}
