#include "shm_ring.hpp"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <thread>

#include "backoff.hpp"
#include "pages.hpp"

namespace mpipool::detail {

struct shm_ring::control {
  alignas(64) std::atomic<std::uint64_t> written{0};  // bytes written so far (the writer's)
  alignas(64) std::atomic<std::uint64_t> read{0};     // bytes read so far (the reader's)
  alignas(64) std::atomic<std::uint32_t> reader_sleeping{0};
  alignas(64) std::atomic<std::uint32_t> writer_sleeping{0};
  alignas(64) std::atomic<std::uint32_t> closed{0};
};

namespace {

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::microseconds timeout) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  const timespec limit{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  // Not FUTEX_PRIVATE: the word lives in memory shared with another process.
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &limit, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

/// Wakes the other side if it said it sleeps. The fence pairs with the one in sleep_until.
void wake_if_sleeping(std::atomic<std::uint32_t>& sleeping) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping.load(std::memory_order_relaxed) != 0) {
    sleeping.store(0, std::memory_order_relaxed);
    futex_wake(sleeping);
  }
}

/// Spins for up to `spin`, then sleeps on `sleeping` until ready() or the timeout.
template <class Ready>
void sleep_until(std::atomic<std::uint32_t>& sleeping, std::chrono::microseconds timeout,
                 std::chrono::microseconds spin, spin_style style, Ready ready) {
  auto left = timeout;
  // Without a spin, no clock is read: the other side may be waiting for this core.
  if (spin.count() > 0) {
    const auto start = std::chrono::steady_clock::now();
    const auto spin_end = start + std::min(timeout, spin);
    const auto polite = start + std::chrono::microseconds(style == spin_style::pause_first ? 10 : 0);
    shared_core_yield handover;
    while (!ready()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= spin_end) break;
      if (now < polite) {
        backoff::relax();
      } else if (style == spin_style::pause_first) {
        std::this_thread::yield();  // the other side may need this core
      } else if (!handover.hand_over()) {
        break;  // nobody takes the core: sleep rather than hold it
      }
    }
    if (ready()) return;
    left -= std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  }
  if (ready() || left.count() <= 0) return;
  sleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!ready()) futex_wait(sleeping, 1, left);
  sleeping.store(0, std::memory_order_relaxed);
}

}  // namespace

shm_ring::shm_ring(std::size_t capacity) : capacity_(capacity) {
  const std::size_t header = whole_pages(sizeof(control));
  mapped_ = header + capacity;
  void* memory = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  control_ = new (memory) control();
  data_ = static_cast<std::byte*>(memory) + header;
}

shm_ring::~shm_ring() { ::munmap(control_, mapped_); }

void shm_ring::map_in() {
#ifdef MADV_POPULATE_WRITE
  ::madvise(control_, mapped_, MADV_POPULATE_WRITE);
#endif
  const std::size_t page = page_bytes();
  const auto* bytes = reinterpret_cast<const volatile std::byte*>(control_);
  for (std::size_t at = 0; at < mapped_; at += page) static_cast<void>(bytes[at]);
}

std::size_t shm_ring::write_some(std::span<const std::byte> bytes) {
  const std::uint64_t written = control_->written.load(std::memory_order_relaxed);
  const std::uint64_t read = control_->read.load(std::memory_order_acquire);
  const std::size_t count = std::min<std::size_t>(bytes.size(), capacity_ - (written - read));
  if (count == 0) return 0;
  const std::size_t at = written % capacity_;
  const std::size_t first = std::min(count, capacity_ - at);
  std::memcpy(data_ + at, bytes.data(), first);
  std::memcpy(data_, bytes.data() + first, count - first);
  control_->written.store(written + count, std::memory_order_release);
  wake_if_sleeping(control_->reader_sleeping);
  return count;
}

void shm_ring::close() {
  control_->closed.store(1, std::memory_order_release);
  wake_if_sleeping(control_->reader_sleeping);
}

std::size_t shm_ring::readable() const {
  return static_cast<std::size_t>(control_->written.load(std::memory_order_acquire) -
                                  control_->read.load(std::memory_order_relaxed));
}

bool shm_ring::closed() const { return control_->closed.load(std::memory_order_acquire) != 0; }

bool shm_ring::at_end() const {
  // closed first: once it is seen, every byte written before close() is visible too.
  return closed() && readable() == 0;
}

std::size_t shm_ring::read_some(std::span<std::byte> out) {
  const std::uint64_t read = control_->read.load(std::memory_order_relaxed);
  const std::size_t count = std::min(out.size(), readable());
  if (count == 0) return 0;
  const std::size_t at = read % capacity_;
  const std::size_t first = std::min(count, capacity_ - at);
  std::memcpy(out.data(), data_ + at, first);
  std::memcpy(out.data() + first, data_, count - first);
  control_->read.store(read + count, std::memory_order_release);
  wake_if_sleeping(control_->writer_sleeping);
  return count;
}

void shm_ring::wait_readable(std::chrono::microseconds timeout, std::chrono::microseconds spin, spin_style style) {
  sleep_until(control_->reader_sleeping, timeout, spin, style, [this] { return readable() != 0 || closed(); });
}

void shm_ring::wait_writable(std::chrono::microseconds timeout) {
  sleep_until(control_->writer_sleeping, timeout, std::chrono::microseconds(0), spin_style::pause_first,
              [this] { return readable() < capacity_; });
}

}  // namespace mpipool::detail
