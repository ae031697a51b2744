#include "shm_ring.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "backoff.hpp"
#include "pages.hpp"

namespace mpipool::detail {

struct shm_ring::control {
  // Bytes written so far, by the writer; bit 63 is set by a reader that refused the writer.
  alignas(64) std::atomic<std::uint64_t> written{0};
  alignas(64) std::atomic<std::uint64_t> read{0};     // bytes read so far (the reader's)
  alignas(64) std::atomic<std::uint32_t> reader_sleeping{0};
  alignas(64) std::atomic<std::uint32_t> writer_sleeping{0};
  alignas(64) std::atomic<std::uint32_t> closed{0};
  // Only rings that another process attaches use these.
  std::uint64_t magic = 0;
  std::uint64_t capacity = 0;
  std::uint64_t token = 0;  // random: an attacher checks it mapped the ring it was told about
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



constexpr std::uint64_t ring_magic = 0x6d7069706f6f6c52;  // "mpipoolR"
constexpr const char* lane_file_name = "/memfd:mpipool-lane";  // as /proc/PID/fd shows it
// Set in `written` by refuse_writers: a guarded write publishes its bytes by moving
// `written` only while this bit is clear, so refusing and publishing exclude each other.
constexpr std::uint64_t refused_bit = std::uint64_t{1} << 63;

std::uint64_t random_token() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace

shm_ring::shm_ring(void* memory, std::size_t capacity, int fd)
    : control_(static_cast<control*>(memory)),
      data_(static_cast<std::byte*>(memory) + header_bytes()),
      capacity_(capacity),
      mapped_(header_bytes() + capacity),
      fd_(fd) {}

shm_ring::shm_ring(std::size_t capacity) : shm_ring(map_anonymous(capacity), capacity, -1) {}

void* shm_ring::map_anonymous(std::size_t capacity) {
  void* memory =
      ::mmap(nullptr, header_bytes() + capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  new (memory) control();
  return memory;
}

std::unique_ptr<shm_ring> shm_ring::create_attachable(std::size_t capacity) {
  const int fd = ::memfd_create(lane_file_name + std::strlen("/memfd:"), MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  const std::size_t bytes = header_bytes() + capacity;
  void* memory = MAP_FAILED;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
    memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  if (memory == MAP_FAILED) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("mapping a lane ring: ") + std::strerror(error));
  }
  auto* header = new (memory) control();
  header->magic = ring_magic;
  header->capacity = capacity;
  header->token = random_token();
  return std::unique_ptr<shm_ring>(new shm_ring(memory, capacity, fd));
}

std::unique_ptr<shm_ring> shm_ring::attach(long pid, int fd, std::size_t capacity, std::uint64_t token) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  const auto not_that_ring = [&] { return std::runtime_error(path + " is not the ring it was announced as"); };
  // Only a lane's memory file: a stale offer may name a descriptor now used for
  // something else, and mapping a file shorter than the ring would fault on access.
  std::array<char, 64> target{};
  const auto length = ::readlink(path.c_str(), target.data(), target.size() - 1);
  if (length < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  if (std::string_view(target.data(), static_cast<std::size_t>(length)).rfind(lane_file_name, 0) != 0) {
    throw not_that_ring();
  }
  const int own = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (own < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  const std::size_t bytes = header_bytes() + capacity;
  struct stat file {};
  void* memory = MAP_FAILED;
  if (::fstat(own, &file) == 0 && static_cast<std::size_t>(file.st_size) == bytes) {
    memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
  }
  ::close(own);  // the mapping keeps the memory
  if (memory == MAP_FAILED) throw not_that_ring();
  auto ring = std::unique_ptr<shm_ring>(new shm_ring(memory, capacity, -1));
  const auto* header = ring->control_;
  if (header->magic != ring_magic || header->capacity != capacity || header->token != token) throw not_that_ring();
  return ring;
}

std::size_t shm_ring::header_bytes() { return whole_pages(sizeof(control)); }

std::uint64_t shm_ring::token() const { return control_->token; }

shm_ring::~shm_ring() {
  ::munmap(control_, mapped_);
  if (fd_ >= 0) ::close(fd_);
}

void shm_ring::map_in() {
#ifdef MADV_POPULATE_WRITE
  ::madvise(control_, mapped_, MADV_POPULATE_WRITE);
#endif
  const std::size_t page = page_bytes();
  const auto* bytes = reinterpret_cast<const volatile std::byte*>(control_);
  for (std::size_t at = 0; at < mapped_; at += page) static_cast<void>(bytes[at]);
}

void shm_ring::wake_readers() {
  wake_if_sleeping(control_->reader_sleeping);
  if (also_wake_ != nullptr) wake_if_sleeping(also_wake_->control_->reader_sleeping);
}

void shm_ring::copy_in(std::uint64_t at_position, std::span<const std::byte> bytes) {
  const std::size_t at = at_position % capacity_;
  const std::size_t first = std::min(bytes.size(), capacity_ - at);
  std::memcpy(data_ + at, bytes.data(), first);
  std::memcpy(data_, bytes.data() + first, bytes.size() - first);
}

std::size_t shm_ring::write_some(std::span<const std::byte> bytes, bool wake) {
  const std::uint64_t written = control_->written.load(std::memory_order_relaxed);
  if ((written & refused_bit) != 0) return 0;  // refused: as good as full, for ever
  const std::uint64_t read = control_->read.load(std::memory_order_acquire);
  const std::size_t count = std::min<std::size_t>(bytes.size(), capacity_ - (written - read));
  if (count == 0) return 0;
  copy_in(written, bytes.first(count));
  control_->written.store(written + count, std::memory_order_release);
  if (wake) wake_readers();
  return count;
}

bool shm_ring::write_whole_unless_refused(std::span<const std::byte> bytes) {
  const std::uint64_t written = control_->written.load(std::memory_order_acquire);
  if ((written & refused_bit) != 0) return false;
  const std::uint64_t read = control_->read.load(std::memory_order_acquire);
  if (bytes.size() > capacity_ - (written - read)) return false;
  copy_in(written, bytes);
  // The bytes lie past the end until `written` moves; refused meanwhile, they are never read.
  std::uint64_t expected = written;
  if (!control_->written.compare_exchange_strong(expected, written + bytes.size(), std::memory_order_release,
                                                 std::memory_order_relaxed)) {
    return false;
  }
  wake_readers();
  return true;
}

void shm_ring::refuse_writers() { control_->written.fetch_or(refused_bit, std::memory_order_acq_rel); }

void shm_ring::close() {
  control_->closed.store(1, std::memory_order_release);
  wake_readers();
}

std::size_t shm_ring::readable() const {
  return static_cast<std::size_t>((control_->written.load(std::memory_order_acquire) & ~refused_bit) -
                                  control_->read.load(std::memory_order_relaxed));
}

bool shm_ring::closed() const { return control_->closed.load(std::memory_order_acquire) != 0; }

bool shm_ring::at_end() const {
  // closed first: once it is seen, every byte written before close() is visible too.
  return closed() && readable() == 0;
}

std::size_t shm_ring::peek(std::span<std::byte> out) const {
  const std::uint64_t read = control_->read.load(std::memory_order_relaxed);
  const std::size_t count = std::min(out.size(), readable());
  const std::size_t at = read % capacity_;
  const std::size_t first = std::min(count, capacity_ - at);
  std::memcpy(out.data(), data_ + at, first);
  std::memcpy(out.data() + first, data_, count - first);
  return count;
}

void shm_ring::skip(std::size_t count) {
  control_->read.store(control_->read.load(std::memory_order_relaxed) + count, std::memory_order_release);
  wake_if_sleeping(control_->writer_sleeping);
}

std::size_t shm_ring::read_some(std::span<std::byte> out) {
  const std::size_t count = peek(out);
  if (count != 0) skip(count);
  return count;
}

void shm_ring::wait_readable(std::chrono::microseconds timeout, std::chrono::microseconds spin, spin_style style,
                             const shm_ring* also) {
  sleep_until(control_->reader_sleeping, timeout, spin, style,
              [this, also] { return has_news() || (also != nullptr && also->has_news()); });
}

void shm_ring::wait_writable(std::chrono::microseconds timeout) {
  sleep_until(control_->writer_sleeping, timeout, std::chrono::microseconds(0), spin_style::pause_first,
              [this] { return readable() < capacity_; });
}

}  // namespace mpipool::detail
