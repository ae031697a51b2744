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
