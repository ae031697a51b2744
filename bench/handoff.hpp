#pragma once
// The floor of a supervised round trip: what any design that runs each task in a
// process of its own, beside the rank, must pay on top of raw MPI. The rank forks
// one child at the start and hands it every message through one slot of shared
// memory; the child answers in the slot. No framing, no rings, no bookkeeping:
// two processes taking turns, nothing else.
//
// They take turns the fastest way we measured. With a core each, both spin. When
// the child shares the rank's core (a node with fewer cores than ranks and task
// processes, as on the 2-core VM), the rank yields its core until the answer is
// there, and the child yields it for up to 30 us before it sleeps on a futex (sooner
// once two yields in a row find nobody to take the core), as mpipool's task process
// on its rank's core does; the rank wakes the child only if it sleeps (raw MPI
// through the child: 4.21 us a round trip, against 6.16 with a child that slept at
// once and was always woken, median of 5 alternating pairs on 2 cores; the rank
// sleeping on a futex as well was slower still). Figures for the floor in the
// benchmark docs before the section "2026-12-06, evening" are of the child that
// slept at once; the 17:12 run's, of one that always yielded for 30 us.

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "shm_ring.hpp"  // src/: header-only parts, for the shared-core policy

namespace bench {

class handoff_child {
 public:
  static constexpr std::size_t max_bytes = 4096;

  /// Forks the child. `core_each`: the child has a core of its own, so both spin.
  explicit handoff_child(bool core_each) : core_each_(core_each) {
    void* memory = ::mmap(nullptr, sizeof(slot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
    slot_ = new (memory) slot();
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // No orphans: the child dies with its rank, even one that is killed.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      serve();  // never returns
    }
  }
  ~handoff_child() {
    slot_->size = -1;  // stop
    post_to_child();
    ::waitpid(pid_, nullptr, 0);
    ::munmap(slot_, sizeof(slot));
  }
  handoff_child(const handoff_child&) = delete;
  handoff_child& operator=(const handoff_child&) = delete;

  /// The child reads and writes each int of `bytes` (as raw MPI's worker does) and hands them back.
  void round_trip(char* bytes, int size) {
    if (size < 0 || static_cast<std::size_t>(size) > max_bytes) throw std::runtime_error("handoff: message too large");
    std::memcpy(slot_->bytes, bytes, static_cast<std::size_t>(size));
    slot_->size = size;
    const int answers = slot_->to_rank.load(std::memory_order_relaxed);
    post_to_child();
    while (slot_->to_rank.load(std::memory_order_acquire) == answers) {
      if (core_each_) {
        __builtin_ia32_pause();
      } else {
        ::sched_yield();  // the child needs this core
      }
    }
    std::memcpy(bytes, slot_->bytes, static_cast<std::size_t>(size));
  }

 private:
  struct slot {
    alignas(64) std::atomic<int> to_child{0};  // requests posted
    alignas(64) std::atomic<int> to_rank{0};   // answers posted
    alignas(64) std::atomic<int> child_sleeping{0};
    int size = 0;
    char bytes[max_bytes];
  };

  /// Posts a request; wakes the child only if it sleeps. The two sequentially
  /// consistent pairs (post, then look; say it sleeps, then look) cannot both miss.
  void post_to_child() {
    slot_->to_child.fetch_add(1, std::memory_order_seq_cst);
    if (slot_->child_sleeping.load(std::memory_order_seq_cst) != 0) {
      ::syscall(SYS_futex, reinterpret_cast<int*>(&slot_->to_child), FUTEX_WAKE, 1, nullptr, nullptr, 0);
    }
  }

  void sleep_until_posted(int seen) {
    slot_->child_sleeping.store(1, std::memory_order_seq_cst);
    if (slot_->to_child.load(std::memory_order_seq_cst) == seen) {
      ::syscall(SYS_futex, reinterpret_cast<int*>(&slot_->to_child), FUTEX_WAIT, seen, nullptr, nullptr, 0);
    }
    slot_->child_sleeping.store(0, std::memory_order_relaxed);
  }

  [[noreturn]] void serve() {
    int seen = 0;
    for (;;) {
      mpipool::detail::shared_core_yield handover;
      const auto yield_until =
          core_each_ ? std::chrono::steady_clock::time_point{} : std::chrono::steady_clock::now() + mpipool::detail::shared_core_spin;
      while (slot_->to_child.load(std::memory_order_acquire) == seen) {
        if (core_each_) {
          __builtin_ia32_pause();
        } else if (std::chrono::steady_clock::now() >= yield_until || !handover.hand_over()) {
          sleep_until_posted(seen);  // the spin is over, or nobody takes the core
        }
      }
      seen = slot_->to_child.load(std::memory_order_acquire);
      if (slot_->size < 0) ::_exit(0);
      auto* values = reinterpret_cast<int*>(slot_->bytes);
      for (std::size_t i = 0; i < static_cast<std::size_t>(slot_->size) / sizeof(int); ++i) values[i] += 0;
      slot_->to_rank.fetch_add(1, std::memory_order_release);  // the rank yields or spins: no wake-up
    }
  }

  bool core_each_;
  slot* slot_ = nullptr;
  pid_t pid_ = -1;
};

}  // namespace bench
