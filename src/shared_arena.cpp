#include "shared_arena.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <iterator>
#include <map>
#include <mutex>

namespace mpipool::detail {

namespace {

// Address space only: pages are taken when first touched and given back on release.
// The largest size the system grants is used, down to the smallest.
constexpr std::size_t largest_arena = std::size_t{1} << 34;
constexpr std::size_t smallest_arena = std::size_t{1} << 30;

struct arena_state {
  std::byte* base = nullptr;
  std::size_t size = 0;
  bool serving = false;
  std::map<std::size_t, std::size_t> free;  // offset -> bytes, never two adjacent
};

std::mutex arena_mutex;
arena_state arena;
// The mapping, once open, for the lookups that take no lock (contains, bytes_at).
// Published after the size; never changed afterwards.
std::atomic<std::byte*> published_base{nullptr};
std::size_t published_size = 0;

// As with large_blocks: a fork while another thread allocates must not leave the
// child a locked mutex.
[[maybe_unused]] const bool fork_safe = [] {
  ::pthread_atfork([] { arena_mutex.lock(); }, [] { arena_mutex.unlock(); }, [] { arena_mutex.unlock(); });
  return true;
}();

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

bool address_space_limited() {
  rlimit limit{};
  return ::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
}

}  // namespace

bool shared_arena::open() {
  std::lock_guard lock(arena_mutex);
  if (arena.base != nullptr || address_space_limited()) return false;
  for (std::size_t size = largest_arena; size >= smallest_arena; size /= 4) {
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) continue;
    arena.base = static_cast<std::byte*>(memory);
    arena.size = size;
    arena.serving = true;
    arena.free = {{0, size}};
    published_size = size;
    published_base.store(arena.base, std::memory_order_release);
    return true;
  }
  return false;
}

void shared_arena::enter_task_process() {
  std::lock_guard lock(arena_mutex);
  if (arena.base == nullptr) return;
  ::mprotect(arena.base, arena.size, PROT_READ);
  arena.serving = false;
  arena.free.clear();
}

bool shared_arena::serving() {
  std::lock_guard lock(arena_mutex);
  return arena.serving;
}

std::byte* shared_arena::allocate(std::size_t& size) {
  const std::size_t page = page_size();
  size = (size + page - 1) / page * page;
  std::lock_guard lock(arena_mutex);
  if (!arena.serving) return nullptr;
  for (auto it = arena.free.begin(); it != arena.free.end(); ++it) {
    if (it->second < size) continue;
    const auto [offset, room] = *it;
    arena.free.erase(it);
    if (room > size) arena.free.emplace(offset + size, room - size);
    return arena.base + offset;
  }
  return nullptr;
}

void shared_arena::release(std::byte* block, std::size_t size) {
  const std::size_t page = page_size();
  size = (size + page - 1) / page * page;
  std::lock_guard lock(arena_mutex);
  if (!arena.serving) return;  // a task process: the block is its rank's
  // The pages go back now; the range reads as zeros when it is handed out again.
  ::madvise(block, size, MADV_REMOVE);
  auto offset = static_cast<std::size_t>(block - arena.base);
  auto next = arena.free.lower_bound(offset);
  if (next != arena.free.end() && offset + size == next->first) {
    size += next->second;
    next = arena.free.erase(next);
  }
  if (next != arena.free.begin()) {
    auto before = std::prev(next);
    if (before->first + before->second == offset) {
      before->second += size;
      return;
    }
  }
  arena.free.emplace_hint(next, offset, size);
}

bool shared_arena::contains(std::span<const std::byte> bytes) {
  const std::byte* base = published_base.load(std::memory_order_acquire);
  if (base == nullptr || bytes.data() < base) return false;
  const auto offset = static_cast<std::size_t>(bytes.data() - base);
  return offset <= published_size && bytes.size() <= published_size - offset;
}

std::uint64_t shared_arena::offset_of(const std::byte* at) {
  return static_cast<std::uint64_t>(at - published_base.load(std::memory_order_acquire));
}

std::optional<std::span<const std::byte>> shared_arena::bytes_at(std::uint64_t offset, std::uint64_t size) {
  const std::byte* base = published_base.load(std::memory_order_acquire);
  if (base == nullptr || offset > published_size || size > published_size - offset) return std::nullopt;
  return std::span<const std::byte>(base + offset, static_cast<std::size_t>(size));
}

}  // namespace mpipool::detail
