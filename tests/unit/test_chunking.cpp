#include <catch2/catch.hpp>

#include <mpipool/detail/job.hpp>
#include <mpipool/serialization.hpp>

#include <algorithm>
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
