#pragma once
// A one-way byte stream between a worker rank and its task process, or a master
// and a task process (a lane, lane.hpp), in shared memory: a ring with a writer
// position and a reader position. While both sides
// are busy no system call is made; a side that waits may spin a little, then
// sleeps on a futex, and the other side wakes it only if it sleeps. This replaces a pipe,
// whose read, write and poll calls cost microseconds each.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>

namespace mpipool::detail {

/// How a side that waits spins before it sleeps.
enum class spin_style {
  pause_first,  // CPU pauses for 10 us, then sched_yield: the other side runs on another core
  yield_only,   // sched_yield only, until nobody takes the core: the other side needs this very core
};

/// How long, at most, a task process that shares its rank's only core yields it
/// before it sleeps: sooner once nobody takes the core (shared_core_yield), and
/// MPIPOOL_TASK_SPIN_US overrides it (task_process::wait_before_sleep; the floor in
/// bench/handoff.hpp does the same).
inline constexpr std::chrono::microseconds shared_core_spin{30};

/// Hands this core to whoever else wants it, and says when nobody does. A yield that
/// comes back within a microsecond switched to nobody (a switch costs 2 us and more
/// on the 2-core VM): the other side sleeps, or the scheduler kept us on, as CFS
/// before Linux 6.6 may for a process that slept a lot. Spinning on then only holds
/// the core, so after two such yields in a row the waiter should sleep.
class shared_core_yield {
 public:
  /// A yield that took this long switched to someone (one to nobody: 0.5 us on the 2-core VM).
  static constexpr std::chrono::nanoseconds switch_at_least{1000};

  /// Yields once; false once two yields in a row came back at once.
  bool hand_over() {
    const auto before = std::chrono::steady_clock::now();
    std::this_thread::yield();
    return yielded(std::chrono::steady_clock::now() - before);
  }

  /// Counts a yield that took `took`; false once two in a row switched to nobody.
  bool yielded(std::chrono::nanoseconds took) {
    unanswered_ = took >= switch_at_least ? 0 : unanswered_ + 1;
    return unanswered_ < 2;
  }

 private:
  int unanswered_ = 0;
};

class shm_ring {
 public:
  /// Maps a ring of `capacity` bytes that a child forked afterwards shares.
  explicit shm_ring(std::size_t capacity);
  /// A ring in a memory file, which another process of this user on this node can
  /// map too (attach): the lane between a pool's master and a task process.
  static std::unique_ptr<shm_ring> create_attachable(std::size_t capacity);
  /// Maps the ring that process `pid` created as descriptor `fd`. Throws
  /// std::system_error if it cannot be opened (gone, or not ours to open), and
  /// std::runtime_error if it is not a ring of `capacity` bytes marked `token`.
  static std::unique_ptr<shm_ring> attach(long pid, int fd, std::size_t capacity, std::uint64_t token);
  /// The memory file's descriptor (-1 for a ring of the first kind) and its mark.
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::uint64_t token() const;

  /// Maps every page of the ring into the calling process now, and touches each one.
  /// A page of shared memory faults once per process on first touch, and a fork does
  /// not carry the mappings over. On the 2-core VM the first touch of a page costs
  /// about 12 us even after MADV_POPULATE_WRITE has mapped it (the hypervisor builds
  /// its own page tables lazily): untouched, a 4 MiB ring made the first five
  /// 200,000-item maps of a supervised pool take 10 to 18 ms instead of 2.
  void map_in();
  ~shm_ring();
  shm_ring(const shm_ring&) = delete;
  shm_ring& operator=(const shm_ring&) = delete;

  /// Writer: copies what fits; returns the number of bytes taken. Without `wake`, a
  /// sleeping reader is left asleep: it reads the bytes when it wakes for other reasons.
  /// Not for a ring whose writer may be refused: that one uses the next.
  std::size_t write_some(std::span<const std::byte> bytes, bool wake = true);
  /// Writer, for a writer that may be shut out (refuse_writers): writes all of `bytes`
  /// or nothing; false if they do not fit or writers were refused.
  bool write_whole_unless_refused(std::span<const std::byte> bytes);
  /// Reader: no guarded write gets in after this returns; what was written before is all
  /// there is to read. Lock-free: it waits for nobody, so a writer that stalls holds nothing up.
  void refuse_writers();
  /// Every write and close of this ring also wakes `other`'s reader, who may wait on
  /// both (wait_readable's `also`). Both rings must be mapped in this process.
  void also_wake(shm_ring* other) { also_wake_ = other; }
  /// Writer: the stream ends; the reader sees end-of-stream once it has read everything.
  void close();

  /// Reader: copies what is there, up to `out.size()` bytes.
  std::size_t read_some(std::span<std::byte> out);
  /// Reader: copies what is there, up to `out.size()` bytes, and leaves it there.
  std::size_t peek(std::span<std::byte> out) const;
  /// Reader: drops `count` bytes it peeked.
  void skip(std::size_t count);
  [[nodiscard]] std::size_t readable() const;
  /// True once the writer closed and every byte has been read.
  [[nodiscard]] bool at_end() const;

  /// Reader: waits until bytes are there, the stream closed, or the timeout passed;
  /// spins for up to `spin` before it sleeps. With `also`, bytes or the end there
  /// end the wait too (its writer must wake this ring's reader: also_wake).
  void wait_readable(std::chrono::microseconds timeout, std::chrono::microseconds spin = {},
                     spin_style style = spin_style::pause_first, const shm_ring* also = nullptr);
  /// Writer: waits until there is room, or the timeout passed.
  void wait_writable(std::chrono::microseconds timeout);

 private:
  struct control;
  shm_ring(void* memory, std::size_t capacity, int fd);
  static std::size_t header_bytes();
  /// Maps a ring's memory that a child forked afterwards shares, its control block made.
  static void* map_anonymous(std::size_t capacity);
  [[nodiscard]] bool closed() const;
  [[nodiscard]] bool has_news() const { return readable() != 0 || closed(); }
  void wake_readers();
  /// Copies `bytes` into the ring from stream position `at_position`, wrapping around.
  void copy_in(std::uint64_t at_position, std::span<const std::byte> bytes);

  control* control_;
  std::byte* data_;
  std::size_t capacity_;
  std::size_t mapped_;
  int fd_ = -1;
  shm_ring* also_wake_ = nullptr;
};

}  // namespace mpipool::detail
