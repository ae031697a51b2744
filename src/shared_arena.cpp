#include "shared_arena.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "pages.hpp"

namespace mpipool::detail {

namespace {

// Address space only: pages are taken when first touched and given back on release.
// The largest size the system grants is used, down to the smallest.
constexpr std::size_t largest_arena = std::size_t{1} << 34;
constexpr std::size_t smallest_arena = std::size_t{1} << 30;

std::atomic<shared_arena*> serving_arena{nullptr};

/// Where the arenas would cost more than they save: the address space is limited
/// (RLIMIT_AS counts the reservation), the kernel commits memory strictly (it
/// ignores MAP_NORESERVE and would charge all of it), or the user said so.
bool arenas_unwelcome() {
  if (const char* setting = std::getenv("MPIPOOL_SHARED_ARENA"); setting != nullptr && std::strcmp(setting, "0") == 0) {
    return true;
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) return true;
  std::FILE* policy = std::fopen("/proc/sys/vm/overcommit_memory", "r");
  if (policy == nullptr) return false;
  const int mode = std::fgetc(policy);
  std::fclose(policy);
  return mode == '2';
}

}  // namespace

// As with large_blocks: a fork while another thread allocates must not leave the
// child a locked mutex.
void lock_arenas_for_fork() {
  shared_arena::of_rank().mutex_.lock();
  shared_arena::of_task_process().mutex_.lock();
}

void unlock_arenas_after_fork() {
  shared_arena::of_task_process().mutex_.unlock();
  shared_arena::of_rank().mutex_.unlock();
}

// A task that forks: the child must not carve blocks from its task process's arena,
// whose free list the two would then share.
void unlock_arenas_in_child() {
  unlock_arenas_after_fork();
  auto& task = shared_arena::of_task_process();
  if (serving_arena.load() == &task) serving_arena.store(nullptr);
}

shared_arena& shared_arena::of_rank() {
  static shared_arena arena;
  return arena;
}

shared_arena& shared_arena::of_task_process() {
  static shared_arena arena;
  return arena;
}

shared_arena* shared_arena::serving() { return serving_arena.load(std::memory_order_acquire); }

bool shared_arena::open() {
  static const bool fork_safe = [] {
    ::pthread_atfork(lock_arenas_for_fork, unlock_arenas_after_fork, unlock_arenas_in_child);
    return true;
  }();
  static_cast<void>(fork_safe);
  std::lock_guard lock(mutex_);
  if (base_.load() != nullptr) return true;
  if (arenas_unwelcome()) return false;
  for (std::size_t size = largest_arena; size >= smallest_arena; size /= 4) {
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) continue;
    size_ = size;
    base_.store(static_cast<std::byte*>(memory), std::memory_order_release);
    return true;
  }
  return false;
}

void shared_arena::serve() {
  std::lock_guard lock(mutex_);
  if (base_.load() == nullptr) return;
  free_ = {{0, size_}};
  serving_arena.store(this, std::memory_order_release);
}

void shared_arena::read_only() {
  std::lock_guard lock(mutex_);
  if (base_.load() == nullptr) return;
  ::mprotect(base_.load(), size_, PROT_READ);
  free_.clear();
  if (serving_arena.load() == this) serving_arena.store(nullptr, std::memory_order_release);
}

void shared_arena::discard_all() {
  std::lock_guard lock(mutex_);
  if (base_.load() != nullptr) ::madvise(base_.load(), size_, MADV_REMOVE);
}

std::byte* shared_arena::allocate(std::size_t& size) {
  size = whole_pages(size);
  std::lock_guard lock(mutex_);
  if (serving_arena.load() != this) return nullptr;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < size) continue;
    const auto [offset, room] = *it;
    free_.erase(it);
    if (room > size) free_.emplace(offset + size, room - size);
    return base_.load() + offset;
  }
  return nullptr;
}

void shared_arena::release(std::byte* block, std::size_t size) {
  size = whole_pages(size);
  std::lock_guard lock(mutex_);
  if (serving_arena.load() != this) return;  // the block is the other side's
  // The pages go back now; the range reads as zeros when it is handed out again.
  ::madvise(block, size, MADV_REMOVE);
  const auto offset = static_cast<std::size_t>(block - base_.load());
  std::size_t joined = size;
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + joined == next->first) {
    joined += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto before = std::prev(next);
    if (before->first + before->second == offset) {
      before->second += joined;
      return;
    }
  }
  free_.emplace_hint(next, offset, joined);
}

bool shared_arena::contains(std::span<const std::byte> bytes) const {
  // As addresses: the bytes may belong to any allocation, not only to the arena.
  const auto base = reinterpret_cast<std::uintptr_t>(base_.load(std::memory_order_acquire));
  const auto at = reinterpret_cast<std::uintptr_t>(bytes.data());
  if (base == 0 || at < base) return false;
  const std::size_t offset = at - base;
  return offset <= size_ && bytes.size() <= size_ - offset;
}

std::uint64_t shared_arena::offset_of(const std::byte* at) const {
  return static_cast<std::uint64_t>(at - base_.load(std::memory_order_acquire));
}

std::optional<std::span<const std::byte>> shared_arena::bytes_at(std::uint64_t offset, std::uint64_t size) const {
  const std::byte* base = base_.load(std::memory_order_acquire);
  if (base == nullptr || offset > size_ || size > size_ - offset) return std::nullopt;
  return std::span<const std::byte>(base + offset, static_cast<std::size_t>(size));
}

}  // namespace mpipool::detail
