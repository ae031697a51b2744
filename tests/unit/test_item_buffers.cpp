// The master keeps finished chunks' item buffers for the next chunks: only small
// ones that nobody else holds, and only so many.

#include <catch2/catch.hpp>

#include <memory>

#include "item_buffers.hpp"

using mpipool::detail::byte_buffer;
using mpipool::detail::item_buffers;

namespace {

std::shared_ptr<byte_buffer> filled(std::size_t size) {
  auto buffer = std::make_shared<byte_buffer>();
  buffer->resize(size);
  return buffer;
}

}  // namespace

TEST_CASE("a buffer given back comes out again empty, with its memory", "[item_buffers]") {
  item_buffers spares;
  auto first = filled(52);
  const auto* memory = first->data();
  const auto* object = first.get();
  spares.give_back(std::move(first));
  REQUIRE(spares.kept() == 1);

  const auto again = spares.take();
  CHECK(again.get() == object);
  CHECK(again->empty());
  CHECK(again->capacity() >= 52);
  again->resize(52);
  CHECK(again->data() == memory);  // no new allocation
  CHECK(spares.kept() == 0);
}

TEST_CASE("with nothing kept, take gives a new empty buffer", "[item_buffers]") {
  item_buffers spares;
  const auto fresh = spares.take();
  REQUIRE(fresh != nullptr);
  CHECK(fresh->empty());
}

TEST_CASE("a buffer someone else still holds is not kept", "[item_buffers]") {
  item_buffers spares;
  auto items = filled(52);
  const std::shared_ptr<const byte_buffer> still_sending = items;  // as the link holds a large chunk's buffer
  spares.give_back(std::move(items));
  CHECK(spares.kept() == 0);
  CHECK(still_sending->size() == 52);  // left as it was
}

TEST_CASE("large buffers are not kept, and neither are more than max_kept", "[item_buffers]") {
  item_buffers spares;
  spares.give_back(filled(item_buffers::max_bytes + 1));
  CHECK(spares.kept() == 0);
  spares.give_back(nullptr);
  CHECK(spares.kept() == 0);
  for (std::size_t i = 0; i < item_buffers::max_kept + 10; ++i) spares.give_back(filled(64));
  CHECK(spares.kept() == item_buffers::max_kept);
}
