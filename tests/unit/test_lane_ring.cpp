// The rings of a lane (src/lane.hpp): another process maps them through
// /proc/PID/fd and checks it got the ring it was told about; the master's writes go
// in whole or not at all, and none once the rank refused them; the task process
// peeks at a chunk before it lets go of it; and it waits on the lane and its rank's
// ring at once. Attaching to our own descriptors stands in for the other process.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "shm_ring.hpp"

using mpipool::detail::shm_ring;
using namespace std::chrono_literals;

namespace {

std::vector<std::byte> bytes(std::size_t count, std::byte value) { return std::vector<std::byte>(count, value); }

}  // namespace

TEST_CASE("a ring attached through /proc is the same memory as the one created", "[lane]") {
  auto created = shm_ring::create_attachable(4096);
  REQUIRE(created->fd() >= 0);
  auto attached = shm_ring::attach(::getpid(), created->fd(), 4096, created->token());
  const auto sent = bytes(100, std::byte{7});
  REQUIRE(attached->write_some(sent) == 100);
  std::array<std::byte, 200> received{};
  REQUIRE(created->read_some(received) == 100);
  CHECK(received[0] == std::byte{7});
  CHECK(received[99] == std::byte{7});
  CHECK(attached->readable() == 0);  // the reader's position is shared too
}

TEST_CASE("attaching refuses a ring of another size or mark, or a descriptor that is not there", "[lane]") {
  auto created = shm_ring::create_attachable(4096);
  CHECK_THROWS_WITH(shm_ring::attach(::getpid(), created->fd(), 4096, created->token() + 1),
                    Catch::Contains("is not the ring it was announced as"));
  CHECK_THROWS_WITH(shm_ring::attach(::getpid(), created->fd(), 8192, created->token()),
                    Catch::Contains("is not the ring it was announced as"));
  CHECK_THROWS_WITH(shm_ring::attach(::getpid(), 100000, 4096, created->token()), Catch::Contains("cannot open"));
}

TEST_CASE("a guarded write goes in whole or not at all, and not once writers are refused", "[lane]") {
  auto ring = shm_ring::create_attachable(64);
  CHECK(ring->write_whole_unless_refused(bytes(40, std::byte{1})));
  CHECK_FALSE(ring->write_whole_unless_refused(bytes(40, std::byte{2})));  // 24 bytes left
  CHECK(ring->readable() == 40);
  CHECK(ring->write_whole_unless_refused(bytes(24, std::byte{3})));
  std::array<std::byte, 64> out{};
  REQUIRE(ring->read_some(out) == 64);
  ring->refuse_writers();
  CHECK_FALSE(ring->write_whole_unless_refused(bytes(8, std::byte{4})));
  CHECK(ring->readable() == 0);
}

TEST_CASE("after refuse_writers returns, every write that said it got in is there, and no other", "[lane]") {
  for (int round = 0; round < 200; ++round) {
    auto ring = shm_ring::create_attachable(1 << 16);
    std::atomic<bool> go{false};
    std::size_t accepted = 0;
    std::thread master([&] {
      while (!go.load()) {
      }
      // Until refused, or the ring is full (8,192 writes of 8 bytes).
      while (ring->write_whole_unless_refused(bytes(8, std::byte{1}))) ++accepted;
    });
    go.store(true);
    std::this_thread::sleep_for(std::chrono::microseconds(round % 50));
    ring->refuse_writers();
    const std::size_t there = ring->readable();
    master.join();
    CHECK(there == accepted * 8);
    CHECK(ring->readable() == there);  // nothing got in after the refusal
  }
}

TEST_CASE("peeked bytes stay for the next read until they are skipped", "[lane]") {
  shm_ring ring(64);
  REQUIRE(ring.write_some(bytes(10, std::byte{5})) == 10);
  std::array<std::byte, 64> out{};
  CHECK(ring.peek(out) == 10);
  CHECK(ring.readable() == 10);
  ring.skip(4);
  CHECK(ring.readable() == 6);
  CHECK(ring.read_some(out) == 6);
  // Across the end of the ring: written position 70 of 64.
  REQUIRE(ring.write_some(bytes(60, std::byte{6})) == 60);
  CHECK(ring.peek(out) == 60);
  CHECK(out[59] == std::byte{6});
}

TEST_CASE("a reader waiting on the lane wakes for what its rank writes to the other ring", "[lane]") {
  shm_ring lane(4096);
  shm_ring from_rank(4096);
  from_rank.also_wake(&lane);
  std::thread rank([&] {
    std::this_thread::sleep_for(50ms);  // the reader is asleep by then: it does not spin
    from_rank.write_some(bytes(1, std::byte{9}));
  });
  const auto start = std::chrono::steady_clock::now();
  lane.wait_readable(10s, 0us, mpipool::detail::spin_style::pause_first, &from_rank);
  const auto waited = std::chrono::steady_clock::now() - start;
  rank.join();
  CHECK(from_rank.readable() == 1);
  CHECK(waited < 5s);  // without the wake-up it sleeps out its 10 s
}
