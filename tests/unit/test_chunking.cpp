#include <catch2/catch.hpp>

#include <mpipool/detail/job.hpp>
#include <mpipool/serialization.hpp>

#include <string>

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
