// The recycling of large buffer blocks (see large_blocks in byte_buffer.hpp).

#include <pthread.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "mpipool/detail/byte_buffer.hpp"
#include "shared_arena.hpp"

namespace mpipool::detail {

namespace {

// Kept blocks, by size. Bounded, so that a burst of big messages does not pin memory for ever.
constexpr std::size_t max_kept_bytes = std::size_t{2} << 30;
constexpr std::size_t max_kept_blocks = 64;

std::mutex kept_mutex;
std::multimap<std::size_t, std::byte*> kept;
std::size_t kept_bytes = 0;

// A rank forks its task process while other threads (liveness, progress) may be
// freeing buffers. Holding the lock across fork() means the child never starts
// with it locked by a thread it does not have.
[[maybe_unused]] const bool fork_safe = [] {
  ::pthread_atfork([] { kept_mutex.lock(); }, [] { kept_mutex.unlock(); }, [] { kept_mutex.unlock(); });
  return true;
}();

void free_block(std::byte* block, std::size_t size) {
  if (shared_arena::contains({block, size})) {
    shared_arena::release(block, size);
  } else {
    delete[] block;
  }
}

}  // namespace

std::byte* large_blocks::take(std::size_t& size) {
  const bool shared = shared_arena::serving();
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
  if (shared) {
    if (std::byte* block = shared_arena::allocate(size)) return block;
  }
  return new std::byte[size];
}

void large_blocks::give_back(std::byte* block, std::size_t size) {
  const bool in_arena = shared_arena::contains({block, size});
  const bool shared = shared_arena::serving();
  if (in_arena && !shared) return;  // a task process: the block is its rank's
  if (!in_arena && shared) {
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
  if (!shared_arena::open()) return;
  // Blocks kept from before are not in the arena: let them go.
  std::multimap<std::size_t, std::byte*> before;
  {
    std::lock_guard lock(kept_mutex);
    before.swap(kept);
    kept_bytes = 0;
  }
  for (auto [bytes, block] : before) free_block(block, bytes);
}

void large_blocks::leave_shared_arena() {
  shared_arena::enter_task_process();
  std::lock_guard lock(kept_mutex);
  for (auto it = kept.begin(); it != kept.end();) {
    if (shared_arena::contains({it->second, it->first})) {
      kept_bytes -= it->first;
      it = kept.erase(it);  // the rank's, and read-only here
    } else {
      ++it;
    }
  }
}

}  // namespace mpipool::detail
