// Counts the tasks messages the master sends (send_spy.hpp), every chunk in one.

#include <catch2/catch.hpp>

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "chunks_over_mpi.hpp"
#include "mpi_main.hpp"
#include "send_spy.hpp"
#include "tasks.hpp"
#include "wire.hpp"

namespace {
std::atomic<std::uint32_t> most_chunks_in_one_message{0};
std::atomic<std::uint64_t> task_messages{0};
std::atomic<std::uint64_t> single_chunk_messages{0};
}  // namespace

void spy_on_send(const void* buffer, int count, int tag) {
  // A tasks message starts [u64 message id][u32 chunk count].
  if (tag != mpipool::detail::wire::tag_tasks || count < 12) return;
  std::uint32_t chunks = 0;
  std::memcpy(&chunks, static_cast<const char*>(buffer) + 8, sizeof chunks);
  std::uint32_t seen = most_chunks_in_one_message.load();
  while (chunks > seen && !most_chunks_in_one_message.compare_exchange_weak(seen, chunks)) {
  }
  ++task_messages;
  if (chunks == 1) ++single_chunk_messages;
}

TEST_CASE("each worker gets several chunks before it returns any result", "[pipelining]") {
  auto pool = static_pool();
  most_chunks_in_one_message = 0;
  std::vector<int> xs(2000, 3);
  const auto ys = pool.map(square, xs, {.chunksize = 1});
  CHECK(ys == std::vector<int>(2000, 9));
  // The first message to an idle worker already carries a second chunk, so the
  // worker never waits for a round trip to the master between tasks.
  CHECK(most_chunks_in_one_message.load() >= 2);
}

TEST_CASE("chunks to one worker share a message instead of one message per task", "[pipelining]") {
  auto pool = static_pool();
  task_messages = 0;
  std::vector<int> xs(2000, 1);
  pool.map(square, xs, {.chunksize = 1});
  CHECK(task_messages.load() < 2000);
}

TEST_CASE("a worker still running a chunk is sent the next one before it runs dry", "[pipelining][one-worker]") {
  auto pool = static_pool({.prefetch = 2});
  REQUIRE(pool.size() == 1);  // with more workers, pairs also go to one worker while another drained
  single_chunk_messages = 0;
  task_messages = 0;
  // Tasks of 20 ms: the master has that long to answer the first result while the
  // second runs, even on a loaded 2-core machine (with 1 ms tasks, it failed once
  // in a parallel ctest run).
  const std::vector<int> ms(50, 20);
  CHECK(pool.map(sleep_ms, ms, {.chunksize = 1}) == ms);
  INFO(task_messages.load() << " tasks messages, " << single_chunk_messages.load() << " with one chunk");
  // With one worker and a window of two, a refill on every result sends one chunk at a
  // time; a master that refilled only drained windows sent every chunk in a pair.
  CHECK(single_chunk_messages.load() > 0);
}
