// A worker's results message keeps its memory between messages (result_batch::reuse),
// but not when it grew large.

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "result_batch.hpp"

using mpipool::detail::result_batch;
using mpipool::detail::wire::item_status;

namespace {

std::uint32_t result_count(const mpipool::detail::byte_buffer& body) {
  std::uint32_t count = 0;
  std::memcpy(&count, body.data(), sizeof count);
  return count;
}

}  // namespace

TEST_CASE("a results message given back after sending holds the next one", "[result_batch]") {
  result_batch batch;
  const std::vector<std::byte> payload(16, std::byte{7});
  batch.add(1, 0, item_status::ok, payload);
  auto sent = batch.take();
  const std::byte* memory = sent.body.data();
  batch.reuse(std::move(sent.body));

  batch.add(2, 0, item_status::ok, payload);  // as large as the first: it fits
  const auto next = batch.take();
  CHECK(next.body.data() == memory);
  CHECK(result_count(next.body) == 1);
}

TEST_CASE("a results message that grew past 64 KiB is not kept", "[result_batch]") {
  result_batch batch;
  const std::vector<std::byte> large(std::size_t{100} << 10, std::byte{1});
  batch.add(1, 0, item_status::ok, large);
  auto sent = batch.take();
  batch.reuse(std::move(sent.body));

  batch.add(2, 0, item_status::ok, std::vector<std::byte>(8));
  const auto next = batch.take();
  CHECK(next.body.capacity() < (std::size_t{64} << 10));
  CHECK(result_count(next.body) == 1);
}
