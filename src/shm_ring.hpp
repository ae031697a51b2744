#pragma once
// A one-way byte stream between a worker rank and its task process, in shared
// memory: a ring with a writer position and a reader position. While both sides
// are busy no system call is made; a side that waits may spin a little, then
// sleeps on a futex, and the other side wakes it only if it sleeps. This replaces a pipe,
// whose read, write and poll calls cost microseconds each.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
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

  /// Writer: copies what fits; returns the number of bytes taken.
  std::size_t write_some(std::span<const std::byte> bytes);
  /// Writer: the stream ends; the reader sees end-of-stream once it has read everything.
  void close();

  /// Reader: copies what is there, up to `out.size()` bytes.
  std::size_t read_some(std::span<std::byte> out);
  [[nodiscard]] std::size_t readable() const;
  /// True once the writer closed and every byte has been read.
  [[nodiscard]] bool at_end() const;

  /// Reader: waits until bytes are there, the stream closed, or the timeout passed;
  /// spins for up to `spin` before it sleeps.
  void wait_readable(std::chrono::microseconds timeout, std::chrono::microseconds spin = {},
                     spin_style style = spin_style::pause_first);
  /// Writer: waits until there is room, or the timeout passed.
  void wait_writable(std::chrono::microseconds timeout);

 private:
  [[nodiscard]] bool closed() const;

  struct control;
  control* control_;
  std::byte* data_;
  std::size_t capacity_;
  std::size_t mapped_;
};

}  // namespace mpipool::detail
