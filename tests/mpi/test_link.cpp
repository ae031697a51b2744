// What a link promises about its buffers and sends. When it counts a send as still
// moving (link::large_send_moving), the loops that own it keep polling: without a
// single-copy path (CMA, XPMEM), Open MPI moves a send past the eager limit only
// during the sender's MPI calls, and 1 ms naps held a 64 MiB echo to 0.3 to 0.9
// GB/s. And small messages reuse memory (send_keeping, recycle): a lone apply used
// to cost eight allocations on the master. The tests send to this process itself,
// over MPI_COMM_SELF: a send that no receive has matched yet cannot have completed.

#include <catch2/catch.hpp>

#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "link.hpp"
#include "mpipool/errors.hpp"
#include "wire.hpp"
#include "mpi_main.hpp"

using mpipool::detail::byte_buffer;
using channel = mpipool::detail::link;  // plain `link` is also POSIX link(2)
using mpipool::detail::message;

namespace {

constexpr int tag = 1;
constexpr std::size_t large_bytes = std::size_t{64} << 20;

MPI_Comm own_comm() {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_SELF, &comm);
  return comm;
}

byte_buffer bytes(std::size_t size) {
  byte_buffer buffer;
  buffer.resize(size);
  for (std::size_t i = 0; i < size; i += 4096) buffer.data()[i] = static_cast<std::byte>(i / 4096);
  return buffer;
}

message receive_one(channel& self) {
  for (;;) {
    if (auto incoming = self.receive()) return std::move(*incoming);
    self.progress_sends();
  }
}

void finish_sends(channel& self) {
  while (self.sends_pending()) self.progress_sends();
}

}  // namespace

TEST_CASE("a large send counts as moving until it completes", "[link]") {
  channel self(own_comm());
  self.send(0, tag, bytes(large_bytes));
  REQUIRE(self.sends_pending());
  CHECK(self.large_send_moving());

  const auto arrived = receive_one(self);
  CHECK(arrived.body.size() == large_bytes);
  CHECK(arrived.body.data()[large_bytes - 4096] == static_cast<std::byte>(large_bytes / 4096 - 1));
  finish_sends(self);
  CHECK_FALSE(self.large_send_moving());
}

TEST_CASE("a send under 1 MiB never counts as moving", "[link]") {
  channel self(own_comm());
  self.send(0, tag, bytes(100));
  self.send(0, tag, bytes(512 << 10));
  REQUIRE(self.sends_pending());  // the second is not received yet
  CHECK_FALSE(self.large_send_moving());
  CHECK(receive_one(self).body.size() == 100);
  CHECK(receive_one(self).body.size() == 512 << 10);
  finish_sends(self);
}

TEST_CASE("an unreceived large send stops counting as moving after its time bound", "[link]") {
  // The bound (its size at 256 MB/s, plus 1 ms: 0.27 s here) keeps a master whose
  // worker is busy with a long task from spinning all the while.
  channel self(own_comm());
  self.send(0, tag, bytes(large_bytes));
  REQUIRE(self.large_send_moving());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  REQUIRE(self.sends_pending());
  CHECK_FALSE(self.large_send_moving());
  CHECK(receive_one(self).body.size() == large_bytes);
  finish_sends(self);
}

TEST_CASE("a small message sent with send_keeping leaves at once and its buffer keeps its memory", "[link]") {
  channel self(own_comm());
  auto body = bytes(100);
  const std::byte* memory = body.data();
  self.send_keeping(0, tag, body);
  CHECK_FALSE(self.sends_pending());
  CHECK(body.empty());
  CHECK(body.data() == memory);
  const auto arrived = receive_one(self);
  CHECK(arrived.body.size() == 100);
  CHECK(arrived.body.data()[0] == std::byte{0});
}

TEST_CASE("a large message sent with send_keeping is moved out and arrives whole", "[link]") {
  channel self(own_comm());
  auto body = bytes(std::size_t{1} << 20);
  self.send_keeping(0, tag, body);
  CHECK(body.capacity() == 0);
  const auto arrived = receive_one(self);
  CHECK(arrived.body.size() == std::size_t{1} << 20);
  CHECK(arrived.body.data()[(std::size_t{1} << 20) - 4096] == static_cast<std::byte>(255));
  finish_sends(self);
}

TEST_CASE("the next small receive reuses a recycled body", "[link]") {
  channel self(own_comm());
  self.send(0, tag, bytes(64));
  auto first = receive_one(self);
  const std::byte* memory = first.body.data();
  self.recycle(std::move(first.body));
  self.send(0, tag, bytes(48));
  const auto second = receive_one(self);
  CHECK(second.body.size() == 48);
  CHECK(second.body.data() == memory);
}

TEST_CASE("messages of every size arrive whole: in the posted receive, or split past it", "[link]") {
  channel self(own_comm());
  // Small (copied out), up to 64 KiB (handed out in the posted memory), larger (split).
  for (const std::size_t size : {std::size_t{100}, std::size_t{10} << 10, std::size_t{64} << 10,
                                 (std::size_t{64} << 10) + 1, std::size_t{300} << 10}) {
    self.send(0, tag, bytes(size));
    const auto arrived = receive_one(self);
    CHECK(arrived.tag == tag);
    REQUIRE(arrived.body.size() == size);
    CHECK(arrived.body.data()[(size - 1) / 4096 * 4096] == static_cast<std::byte>((size - 1) / 4096));
  }
  finish_sends(self);
}

TEST_CASE("messages that arrive while no receive is posted are taken whole and in order", "[link]") {
  // A receive taken with post_on_next_look leaves none posted until the next look:
  // everything sent meanwhile arrives unexpected, and must still come out as sent.
  channel self(own_comm());
  const std::size_t sizes[] = {100, std::size_t{10} << 10, std::size_t{300} << 10, 7, std::size_t{64} << 10};
  const auto later = channel::next_receive::post_on_next_look;
  std::optional<message> first;
  self.send(0, tag, bytes(sizes[0]));
  while (!(first = self.receive(later))) self.progress_sends();
  REQUIRE(first->body.size() == sizes[0]);
  for (std::size_t i = 1; i < std::size(sizes); ++i) self.send(0, tag + static_cast<int>(i), bytes(sizes[i]));
  for (std::size_t i = 1; i < std::size(sizes); ++i) {
    std::optional<message> arrived;
    while (!(arrived = self.receive(later))) self.progress_sends();
    CHECK(arrived->tag == tag + static_cast<int>(i));
    REQUIRE(arrived->body.size() == sizes[i]);
    CHECK(arrived->body.data()[(sizes[i] - 1) / 4096 * 4096] == static_cast<std::byte>((sizes[i] - 1) / 4096));
  }
  finish_sends(self);
  CHECK_FALSE(self.receive().has_value());
}

TEST_CASE("receive_tagged takes the first message with its tag and keeps the others in order", "[link]") {
  channel self(own_comm());
  self.send(0, 1, bytes(10));
  self.send(0, 2, bytes(20));
  self.send(0, 1, bytes(30));
  std::optional<message> wanted;
  while (!(wanted = self.receive_tagged(2))) self.progress_sends();
  CHECK(wanted->body.size() == 20);
  const auto first = receive_one(self);
  const auto second = receive_one(self);
  CHECK(first.body.size() == 10);
  CHECK(second.body.size() == 30);
  CHECK_FALSE(self.receive().has_value());
}

TEST_CASE("a message in more parts than one header can announce is refused with a clear error", "[link]") {
  channel self(own_comm());
  auto keeper = std::make_shared<std::vector<std::byte>>(8);
  std::vector<mpipool::detail::borrowed_span> borrowed;
  for (std::size_t i = 0; i < 5000; ++i) borrowed.push_back({i, *keeper, keeper});  // each makes two parts
  CHECK_THROWS_WITH(self.send(0, tag, bytes(5000), borrowed), Catch::Contains("more than one header can announce"));
  CHECK_FALSE(self.sends_pending());
}

TEST_CASE("after a malformed split message, its remaining parts do not reach the next receive", "[link]") {
  channel self(own_comm());
  // A header announcing parts of 100 and 100,000 bytes, then a first part of the wrong size.
  byte_buffer header;
  header.put<std::uint64_t>(100'100);
  header.put<std::uint64_t>(2);
  header.put<std::uint64_t>(100);
  header.put<std::uint64_t>(100'000);
  const auto short_part = bytes(50);
  const auto large_part = bytes(100'000);
  MPI_Request requests[3];
  MPI_Isend(header.data(), static_cast<int>(header.size()), MPI_BYTE, 0, tag | mpipool::detail::wire::split_flag,
            self.comm(), &requests[0]);
  MPI_Isend(short_part.data(), 50, MPI_BYTE, 0, mpipool::detail::wire::tag_part, self.comm(), &requests[1]);
  MPI_Isend(large_part.data(), 100'000, MPI_BYTE, 0, mpipool::detail::wire::tag_part, self.comm(), &requests[2]);

  CHECK_THROWS_AS(receive_one(self), mpipool::serialization_error);
  MPI_Waitall(3, requests, MPI_STATUSES_IGNORE);
  self.send(0, tag, bytes(10));
  const auto next = receive_one(self);
  CHECK(next.tag == tag);
  CHECK(next.body.size() == 10);
}
