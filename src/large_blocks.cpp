// The recycling of large buffer blocks (see large_blocks in byte_buffer.hpp).

#include <pthread.h>

#include <map>
#include <mutex>

#include "mpipool/detail/byte_buffer.hpp"

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
  return new std::byte[size];
}

void large_blocks::give_back(std::byte* block, std::size_t size) {
  std::lock_guard lock(kept_mutex);
  kept.emplace(size, block);
  kept_bytes += size;
  while (kept_bytes > max_kept_bytes || kept.size() > max_kept_blocks) {
    auto largest = std::prev(kept.end());  // the biggest goes first: it is the least likely fit
    kept_bytes -= largest->first;
    delete[] largest->second;
    kept.erase(largest);
  }
}

}  // namespace mpipool::detail
