// Bad input over a real pool: this binary corrupts the master's next tasks message
// on its way out (it defines MPI_Send and MPI_Isend over PMPI), and checks
// that the affected task fails with a clear error while the pool goes on.

#include <catch2/catch.hpp>

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "chunks_over_mpi.hpp"
#include "mpi_main.hpp"
#include "tasks.hpp"
#include "wire.hpp"

namespace {

enum class damage {
  none,
  unknown_task_id,
  huge_items_length,
  huge_item_length,
  wrong_item_size,
  cut_after_header,
  cut_in_id
};
std::atomic<damage> armed{damage::none};
std::mutex keep_mutex;
std::deque<std::vector<char>> kept;  // corrupted copies must outlive their sends

// Offsets in a tasks message: [u64 id][u32 chunks] then [u64 chunk][u32 task][u32 count][i64 timeout][u32 item
// size][u64 items length][items: u64 item length, bytes... or, packed, item size bytes each].
constexpr std::size_t task_at = 8 + 4 + 8;
constexpr std::size_t item_size_at = task_at + 4 + 4 + 8;
constexpr std::size_t items_length_at = item_size_at + 4;
constexpr std::size_t first_item_length_at = items_length_at + 8;

void put_u64(std::vector<char>& bytes, std::size_t at, std::uint64_t value) { std::memcpy(&bytes[at], &value, 8); }

}  // namespace

namespace {

/// The bytes to send instead, if a corruption is armed and this is a tasks message.
const std::vector<char>* corrupted(const void* buffer, int count, int tag) {
  const damage kind = tag == mpipool::detail::wire::tag_tasks ? armed.exchange(damage::none) : damage::none;
  if (kind == damage::none) return nullptr;
  std::vector<char> bytes(static_cast<const char*>(buffer), static_cast<const char*>(buffer) + count);
  switch (kind) {
    case damage::unknown_task_id: {
      const std::uint32_t bogus = 0xFFFFFF0U;
      std::memcpy(&bytes[task_at], &bogus, 4);
      break;
    }
    case damage::huge_items_length:
      put_u64(bytes, items_length_at, std::uint64_t{1} << 60);
      break;
    case damage::huge_item_length:
      put_u64(bytes, first_item_length_at, std::uint64_t{1} << 40);
      break;
    case damage::wrong_item_size: {
      const std::uint32_t claimed = 1000;
      std::memcpy(&bytes[item_size_at], &claimed, 4);
      break;
    }
    case damage::cut_after_header:
      bytes.resize(12);
      break;
    case damage::cut_in_id:
      bytes.resize(4);
      break;
    case damage::none:
      break;
  }
  std::lock_guard lock(keep_mutex);
  kept.push_back(std::move(bytes));
  return &kept.back();
}

}  // namespace

// Small messages leave with MPI_Send, larger ones with MPI_Isend: either may carry the damage.
extern "C" int MPI_Send(const void* buffer, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  if (const auto* bad = corrupted(buffer, count, tag)) {
    return PMPI_Send(bad->data(), static_cast<int>(bad->size()), type, dest, tag, comm);
  }
  return PMPI_Send(buffer, count, type, dest, tag, comm);
}

extern "C" int MPI_Isend(const void* buffer, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
                         MPI_Request* request) {
  if (const auto* bad = corrupted(buffer, count, tag)) {
    return PMPI_Isend(bad->data(), static_cast<int>(bad->size()), type, dest, tag, comm, request);
  }
  return PMPI_Isend(buffer, count, type, dest, tag, comm, request);
}

TEST_CASE("a wrong task id fails that task with unknown_task", "[bad-input]") {
  for (auto mode : {mpipool::execution::supervised, mpipool::execution::direct}) {
    auto pool = static_pool({.mode = mode});
    armed = damage::unknown_task_id;
    CHECK_THROWS_WITH(pool.apply(square, 3), Catch::Contains("task id") && Catch::Contains("unknown"));
    CHECK(pool.apply(square, 4) == 16);
  }
}

TEST_CASE("an oversized length field fails the task with serialization_error, not an allocation", "[bad-input]") {
  for (auto mode : {mpipool::execution::supervised, mpipool::execution::direct}) {
    auto pool = static_pool({.mode = mode});
    armed = damage::huge_items_length;
    CHECK_THROWS_AS(pool.apply(square, 3), mpipool::serialization_error);
    armed = damage::huge_item_length;  // framed items: a string argument
    CHECK_THROWS_WITH(pool.apply(shout, std::string("hi")), Catch::Contains("truncated message or corrupt length"));
    armed = damage::wrong_item_size;  // packed items: an int argument
    CHECK_THROWS_WITH(pool.apply(square, 3), Catch::Contains("has no item 0 of 1000 bytes"));
    CHECK(pool.apply(square, 5) == 25);
  }
}

TEST_CASE("a truncated tasks message fails its tasks instead of losing them", "[bad-input]") {
  for (auto mode : {mpipool::execution::supervised, mpipool::execution::direct}) {
    auto pool = static_pool({.mode = mode});
    armed = damage::cut_after_header;
    CHECK_THROWS_WITH(pool.apply(square, 3), Catch::Contains("could not read a tasks message"));
    armed = damage::cut_in_id;
    CHECK_THROWS_WITH(pool.apply(square, 3), Catch::Contains("could not read a tasks message"));
    CHECK(pool.apply(square, 6) == 36);
  }
}
