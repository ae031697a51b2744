// Frames through a shared-memory ring, as between a worker rank and its task
// process: what goes in comes out, large frames and small, alone or together.

#include <catch2/catch.hpp>

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "frames.hpp"

using mpipool::detail::byte_buffer;
using mpipool::detail::frame_kind;
using mpipool::detail::frame_reader;
using mpipool::detail::shm_ring;

namespace {

std::vector<std::byte> pattern(std::size_t size, std::uint8_t seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  return bytes;
}

struct sent_frame {
  frame_kind kind;
  const std::vector<std::byte>& body;
};

/// Writes `frames` into the ring, then reads them back and checks each.
void pass_through(shm_ring& ring, frame_reader& reader, std::initializer_list<sent_frame> frames) {
  for (const auto& sent : frames) {
    byte_buffer out;
    const auto start = mpipool::detail::begin_frame(out, sent.kind);
    out.append(sent.body.data(), sent.body.size());
    mpipool::detail::end_frame(out, start);
    mpipool::detail::write_all(ring, out.view());
  }
  REQUIRE(reader.fill(ring));
  for (const auto& sent : frames) {
    auto incoming = reader.next();
    REQUIRE(incoming);
    CHECK(incoming->kind == sent.kind);
    REQUIRE(incoming->body.size() == sent.body.size());
    CHECK(std::equal(sent.body.begin(), sent.body.end(), incoming->body.data()));
  }
}

}  // namespace

TEST_CASE("frames come out of a ring as they went in, large or small, alone or not", "[frames]") {
  shm_ring ring(std::size_t{1} << 20);
  frame_reader reader;
  const auto small = pattern(100, 1);
  const auto large = pattern(std::size_t{200} << 10, 2);

  SECTION("a large frame alone") { pass_through(ring, reader, {{frame_kind::item_result, large}}); }
  SECTION("a large frame between small ones") {
    pass_through(ring, reader,
                 {{frame_kind::chunk, small}, {frame_kind::item_result, large}, {frame_kind::init_done, small}});
  }
  SECTION("the reader goes on after its buffer was emptied") {
    pass_through(ring, reader, {{frame_kind::item_result, large}});
    pass_through(ring, reader, {{frame_kind::item_result, small}, {frame_kind::item_result, large}});
  }
  CHECK_FALSE(reader.next());
}

TEST_CASE("a frame that arrives in pieces is cut once it is whole, behind frames already read", "[frames]") {
  shm_ring ring(std::size_t{64} << 10);
  frame_reader reader;
  const auto small = pattern(100, 3);
  const auto large = pattern(std::size_t{200} << 10, 4);  // three times the ring
  byte_buffer out;
  for (const auto* body : {&small, &large}) {
    const auto start = mpipool::detail::begin_frame(out, frame_kind::item_result);
    out.append(body->data(), body->size());
    mpipool::detail::end_frame(out, start);
  }
  auto left = out.view();
  std::vector<std::vector<std::byte>> bodies;
  while (!left.empty()) {
    left = left.subspan(ring.write_some(left));
    REQUIRE(reader.fill(ring));
    while (auto incoming = reader.next()) bodies.emplace_back(incoming->body.begin(), incoming->body.end());
  }
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0] == small);
  CHECK(bodies[1] == large);
}

TEST_CASE("frame_writer::write goes straight into the ring, and behind what is queued once it is full",
          "[frames]") {
  shm_ring ring(std::size_t{64} << 10);
  mpipool::detail::frame_writer writer;
  frame_reader reader;
  const auto first = pattern(std::size_t{40} << 10, 5);
  const auto second = pattern(std::size_t{40} << 10, 6);
  auto framed = [](const std::vector<std::byte>& body) {
    byte_buffer out;
    const auto start = mpipool::detail::begin_frame(out, frame_kind::chunk);
    out.append(body.data(), body.size());
    mpipool::detail::end_frame(out, start);
    return out;
  };

  auto staged = framed(first);
  writer.write(ring, staged);
  CHECK(staged.empty());
  CHECK_FALSE(writer.pending());  // the ring took it all

  staged = framed(second);
  writer.write(ring, staged);
  CHECK(staged.empty());
  CHECK(writer.pending());  // only part of it fit

  std::vector<std::vector<std::byte>> bodies;
  for (int round = 0; round < 10 && bodies.size() < 2; ++round) {
    REQUIRE(reader.fill(ring));
    while (auto incoming = reader.next()) bodies.emplace_back(incoming->body.begin(), incoming->body.end());
    writer.flush(ring);
  }
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0] == first);
  CHECK(bodies[1] == second);
  CHECK_FALSE(writer.pending());
}
