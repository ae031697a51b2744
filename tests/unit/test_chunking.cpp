#include <catch2/catch.hpp>

#include <mpipool/detail/job.hpp>

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

TEST_CASE("append_item frames each item with its length", "[chunking]") {
  mpipool::detail::encoded_chunk chunk;
  mpipool::detail::append_item(chunk, 7);
  mpipool::detail::append_item(chunk, 1.5, 2);
  REQUIRE(chunk.count == 2);
  mpipool::detail::byte_reader reader(chunk.item_bytes());
  CHECK(reader.get_blob().size() == sizeof(int));
  CHECK(reader.get_blob().size() == sizeof(double) + sizeof(int));
  CHECK(reader.at_end());
}
