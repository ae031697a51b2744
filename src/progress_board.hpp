#pragma once
// A page of memory shared between a worker rank and its task process. The task
// process writes which item it is running and since when; no system call per
// item. When the task process dies, the rank reads here which item killed it, or
// which block of a typed loop (then the block runs again item by item, and a second
// crash names the item); a timeout is measured from the exact start of the item.

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <new>

#include "mpipool/task.hpp"

namespace mpipool::detail {

struct progress_board {
  std::atomic<std::uint64_t> chunk{0};
  running_item item;  // a typed loop names a block of items at a time (packed_loop)
  std::atomic<std::uint32_t> running{0};
  std::atomic<std::int64_t> started_ns{0};
  std::atomic<std::uint64_t> items_done{0};  // items this task process finished

  void start(std::uint64_t chunk_id, std::uint32_t item_index) {
    chunk.store(chunk_id, std::memory_order_relaxed);
    item.index.store(item_index, std::memory_order_relaxed);
    item.span.store(1, std::memory_order_relaxed);
    started_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    running.store(1, std::memory_order_release);
  }
  void finish(std::uint32_t items) {
    running.store(0, std::memory_order_release);
    items_done.fetch_add(items, std::memory_order_relaxed);
  }
};

/// Maps a board that a forked child shares with its parent.
inline progress_board* map_shared_board() {
  void* page = ::mmap(nullptr, sizeof(progress_board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) throw std::bad_alloc();
  return new (page) progress_board();
}

inline void unmap_board(progress_board* board) {
  if (board != nullptr) ::munmap(board, sizeof(progress_board));
}

}  // namespace mpipool::detail
