#include <catch2/catch.hpp>

#include <mpipool/detail/job.hpp>
#include <mpipool/detail/typed_jobs.hpp>
#include <mpipool/serialization.hpp>

#include <algorithm>
#include <span>
#include <string>
#include <tuple>
#include <vector>

using mpipool::detail::default_chunksize;

TEST_CASE("default chunksize follows Python's rule: ceil(items / (4 x workers))", "[chunking]") {
  CHECK(default_chunksize(200'000, 1) == 50'000);
  CHECK(default_chunksize(200'000, 2) == 25'000);
  CHECK(default_chunksize(17, 1) == 5);  // divmod(17, 4) = (4, 1) -> 5
  CHECK(default_chunksize(16, 1) == 4);
  CHECK(default_chunksize(10, 4) == 1);
}

TEST_CASE("default chunksize is at least one", "[chunking]") {
  CHECK(default_chunksize(0, 3) == 1);
  CHECK(default_chunksize(1, 100) == 1);
  CHECK(default_chunksize(5, 0) == 2);  // no workers counts as one
}

TEST_CASE("append_item frames each item with its length unless all arguments are arithmetic", "[chunking]") {
  mpipool::detail::encoded_chunk chunk;
  mpipool::detail::append_item(chunk, std::string("ab"));
  mpipool::detail::append_item(chunk, std::string("cde"));
  REQUIRE(chunk.count == 2);
  CHECK(chunk.item_size == 0);
  mpipool::detail::byte_reader reader(chunk.item_bytes());
  CHECK(reader.get_blob().size() == sizeof(std::uint64_t) + 2);  // Boost: length, then characters
  CHECK(reader.get_blob().size() == sizeof(std::uint64_t) + 3);
  CHECK(reader.at_end());
}

TEST_CASE("arithmetic arguments are packed: their raw bytes, a fixed size per item", "[chunking]") {
  mpipool::detail::encoded_chunk chunk;
  mpipool::detail::append_item(chunk, 1.5, 2);
  mpipool::detail::append_item(chunk, -0.25, 7);
  REQUIRE(chunk.count == 2);
  CHECK(chunk.item_size == sizeof(double) + sizeof(int));
  REQUIRE(chunk.item_bytes().size() == 2 * chunk.item_size);
  mpipool::detail::byte_reader reader(chunk.item_bytes());
  CHECK(reader.get<double>() == 1.5);
  CHECK(reader.get<int>() == 2);
  CHECK(reader.get<double>() == -0.25);
  CHECK(reader.get<int>() == 7);
}

TEST_CASE("a large vector passed as an rvalue is adopted, and its bytes are what a copy would write", "[chunking]") {
  using mpipool::detail::encoded_chunk;
  using args = std::tuple<std::vector<double>, std::vector<double>, double>;
  std::vector<double> big(200'000);  // 1.6 MB: above the threshold
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i) * 0.25;
  const std::vector<double> small{1.0, 2.0, 3.0};

  encoded_chunk copied;
  mpipool::detail::append_item(copied, big, small, 0.5);
  CHECK(copied.adopted.empty());

  encoded_chunk adopted;
  const double* memory = big.data();
  mpipool::detail::append_call<args>(adopted, std::move(big), std::vector<double>(small), 0.5);
  REQUIRE(adopted.adopted.size() == 1);  // the small rvalue is copied: below the threshold
  const auto& span = adopted.adopted.front();
  CHECK(span.bytes.data() == reinterpret_cast<const std::byte*>(memory));  // the vector's own memory
  CHECK(span.offset == encoded_chunk::header_room + 2 * sizeof(std::uint64_t));  // after item length and count
  CHECK(adopted.count == 1);

  const auto expected = copied.item_bytes();
  const auto joined = adopted.item_bytes();
  CHECK(adopted.adopted.empty());
  REQUIRE(joined.size() == expected.size());
  CHECK(std::equal(joined.begin(), joined.end(), expected.begin()));

  encoded_chunk from_lvalue;
  std::vector<double> kept(200'000, 1.0);
  mpipool::detail::append_call<args>(from_lvalue, kept, small, 0.5);
  CHECK(from_lvalue.adopted.empty());  // an lvalue is copied: the call may outlive it
  CHECK(kept.size() == 200'000);
}

namespace {
std::vector<mpipool::detail::encoded_chunk> take_all(mpipool::detail::prepared_chunks& chunks) {
  std::vector<mpipool::detail::encoded_chunk> taken;
  for (mpipool::detail::encoded_chunk chunk; chunks.next(chunk);) taken.push_back(std::move(chunk));
  CHECK(chunks.empty());
  return taken;
}
}  // namespace

TEST_CASE("packed items cut as each chunk is taken make the chunks a copy up front makes", "[chunking]") {
  std::vector<int> items(10);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = static_cast<int>(i * i);
  mpipool::detail::prepared_chunks up_front;
  mpipool::detail::prepared_chunks when_taken;
  mpipool::detail::pack_contiguous(up_front, std::span<const int>(items), 4, false);
  mpipool::detail::pack_contiguous(when_taken, std::span<const int>(items), 4, true);
  CHECK_FALSE(when_taken.empty());
  auto expected = take_all(up_front);
  auto cut = take_all(when_taken);
  REQUIRE(expected.size() == 3);  // 4 + 4 + 2 items
  REQUIRE(cut.size() == expected.size());
  for (std::size_t c = 0; c < cut.size(); ++c) {
    CHECK(cut[c].first_index == 4 * c);
    CHECK(cut[c].first_index == expected[c].first_index);
    CHECK(cut[c].count == expected[c].count);
    CHECK(cut[c].item_size == sizeof(int));
    const auto bytes = cut[c].item_bytes();
    const auto want = expected[c].item_bytes();
    CHECK(std::equal(bytes.begin(), bytes.end(), want.begin(), want.end()));
  }
  CHECK(cut.back().count == 2);
}

TEST_CASE("chunks copied up front no longer read the caller's items", "[chunking]") {
  std::vector<double> items{1.5, 2.5, 3.5};
  mpipool::detail::prepared_chunks chunks;
  mpipool::detail::pack_contiguous(chunks, std::span<const double>(items), 2, false);
  std::fill(items.begin(), items.end(), -1.0);  // an async map's caller may reuse its vector at once
  auto taken = take_all(chunks);
  REQUIRE(taken.size() == 2);
  mpipool::detail::byte_reader first(taken[0].item_bytes());
  CHECK(first.get<double>() == 1.5);
  CHECK(first.get<double>() == 2.5);
  mpipool::detail::byte_reader second(taken[1].item_bytes());
  CHECK(second.get<double>() == 3.5);
}
