// The recycling of large buffer blocks (see large_blocks in byte_buffer.hpp).

#include <pthread.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/huge_pages.hpp"
#include "shared_arena.hpp"

namespace mpipool::detail {

namespace {

// Kept blocks, by size. Bounded, so that a burst of big messages does not pin memory for ever.
constexpr std::size_t max_kept_bytes = std::size_t{2} << 30;
constexpr std::size_t max_kept_blocks = 64;

std::mutex kept_mutex;
std::multimap<std::size_t, std::byte*> kept;
std::size_t kept_bytes = 0;

// A process that a task forks must not take the kept blocks of its task process's
// arena: both would then write the same shared memory.
void forget_kept_task_arena_blocks() {
  auto& task = shared_arena::of_task_process();
  if (shared_arena::serving() != &task) return;  // only a task process serves it
  for (auto it = kept.begin(); it != kept.end();) {
    if (task.contains({it->second, it->first})) {
      kept_bytes -= it->first;
      it = kept.erase(it);
    } else {
      ++it;
    }
  }
}

// A rank forks its task process while other threads (liveness, progress) may be
// freeing buffers. Holding the lock across fork() means the child never starts
// with it locked by a thread it does not have.
[[maybe_unused]] const bool fork_safe = [] {
  ::pthread_atfork([] { kept_mutex.lock(); }, [] { kept_mutex.unlock(); },
                   [] {
                     forget_kept_task_arena_blocks();  // before the arena stops serving here (it registers later)
                     kept_mutex.unlock();
                   });
  return true;
}();

/// Which arena holds a block, if any.
shared_arena* arena_of(std::byte* block, std::size_t size) {
  for (auto* arena : {&shared_arena::of_rank(), &shared_arena::of_task_process()}) {
    if (arena->contains({block, size})) return arena;
  }
  return nullptr;
}

void free_block(std::byte* block, std::size_t size) {
  if (auto* arena = arena_of(block, size)) {
    arena->release(block, size);  // does nothing in an arena this process does not serve
  } else {
    delete[] block;
  }
}

/// Lets go of every kept block: none of them is in the arena this process now serves.
void free_all_kept() {
  std::multimap<std::size_t, std::byte*> before;
  {
    std::lock_guard lock(kept_mutex);
    before.swap(kept);
    kept_bytes = 0;
  }
  for (auto [bytes, block] : before) free_block(block, bytes);
}

}  // namespace

std::byte* large_blocks::take(std::size_t& size) {
  {
    std::lock_guard lock(kept_mutex);
    // The smallest kept block that fits, if it wastes less than half of itself.
    auto found = kept.lower_bound(size);
    if (found != kept.end() && found->first <= 2 * size) {
      size = found->first;
      std::byte* block = found->second;
      kept_bytes -= found->first;
      kept.erase(found);
      return block;
    }
  }
  if (auto* arena = shared_arena::serving()) {
    if (std::byte* block = arena->allocate(size)) return block;
  }
  auto* block = new std::byte[size];
  if (size >= huge_page_advice_bytes) advise_huge_pages(block, size);  // a new large message buffer
  return block;
}

void large_blocks::give_back(std::byte* block, std::size_t size) {
  auto* serving = shared_arena::serving();
  auto* arena = arena_of(block, size);
  if (arena != nullptr && arena != serving) return;  // the other side's block
  if (serving != nullptr && arena == nullptr) {
    // Kept, it would be taken again where an arena block is wanted.
    delete[] block;
    return;
  }
  std::vector<std::pair<std::size_t, std::byte*>> evicted;
  {
    std::lock_guard lock(kept_mutex);
    kept.emplace(size, block);
    kept_bytes += size;
    while (kept_bytes > max_kept_bytes || kept.size() > max_kept_blocks) {
      auto largest = std::prev(kept.end());  // the biggest goes first: it is the least likely fit
      kept_bytes -= largest->first;
      evicted.emplace_back(largest->first, largest->second);
      kept.erase(largest);
    }
  }
  for (auto [bytes, evict] : evicted) free_block(evict, bytes);
}

void large_blocks::use_shared_arena() {
  auto& own = shared_arena::of_rank();
  if (shared_arena::serving() == &own) return;
  if (!own.open() || !shared_arena::of_task_process().open()) return;
  own.serve();
  free_all_kept();  // from before the arena
}

void large_blocks::leave_shared_arena(bool serve_own) {
  auto& rank = shared_arena::of_rank();
  if (shared_arena::serving() != &rank) return;  // the rank serves no arena: neither do we
  rank.read_only();
  if (serve_own) shared_arena::of_task_process().serve();
  // The rank's kept blocks are read-only here, and the others would keep large
  // results out of the arena.
  free_all_kept();
}

}  // namespace mpipool::detail
