#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "mpipool/detail/byte_buffer.hpp"

using mpipool::detail::byte_buffer;

namespace {

std::uintptr_t address_of(const std::byte* at) { return reinterpret_cast<std::uintptr_t>(at); }

}  // namespace

TEST_CASE("a receive buffer starts the chosen byte on a cache line", "[byte_buffer]") {
  for (const std::size_t size : {std::size_t{100}, std::size_t{1} << 20}) {  // small and recycled blocks
    for (const std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{37}, std::size_t{64}}) {
      auto buffer = byte_buffer::with_aligned_byte(size, offset);
      REQUIRE(buffer.size() == size);
      CHECK(address_of(buffer.data() + offset) % 64 == 0);
      std::memset(buffer.data(), 0x5a, size);  // every byte is the buffer's own (ASan, valgrind)
    }
  }
}

TEST_CASE("an aligned buffer keeps its bytes when it grows and moves", "[byte_buffer]") {
  auto buffer = byte_buffer::with_aligned_byte(3, 1);
  const char text[] = "abc";
  std::memcpy(buffer.data(), text, 3);
  buffer.append("defg", 4);
  buffer.reserve(1 << 20);  // a new block
  REQUIRE(buffer.size() == 7);
  CHECK(std::memcmp(buffer.data(), "abcdefg", 7) == 0);

  byte_buffer moved(std::move(buffer));
  CHECK(std::memcmp(moved.data(), "abcdefg", 7) == 0);
  CHECK(buffer.size() == 0);  // NOLINT(bugprone-use-after-move): a moved-from buffer is empty
  buffer.append("x", 1);
  CHECK(buffer.size() == 1);
}
