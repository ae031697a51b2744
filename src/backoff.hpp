#pragma once
// How an idle progress loop waits. It spins for a while after the last piece of
// work, because the next message is usually close behind; then it sleeps,
// doubling the sleep up to a cap, so a master waiting on long tasks costs almost
// no CPU. Pipelining (several tasks in flight per worker) hides the sleep from
// the workers.
//
// The spin must outlast the other side's reaction time: if it is shorter, both
// sides of a round trip fall asleep in turn and stay in that slow regime
// (measured: 50 us of spin gave 250 us round trips, 200 us gave 4 us).

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

namespace mpipool::detail {

class backoff {
 public:
  using clock = std::chrono::steady_clock;

  /// Naps grow to `cap`; with `patience`, they stay below `early_cap` until the
  /// loop has been idle that long (a worker between pools expects the next one soon).
  explicit backoff(std::chrono::microseconds cap = std::chrono::microseconds(1000),
                   std::chrono::microseconds early_cap = std::chrono::microseconds(1000),
                   std::chrono::milliseconds patience = std::chrono::milliseconds(0))
      : cap_(cap), early_cap_(early_cap), patience_(patience), spin_for_(configured_spin()) {}

  /// While `moving()` holds, the loop does not nap: it goes on spinning politely
  /// (sched_yield). For a transfer that moves only while this process makes MPI
  /// calls. Asked only when a nap is due, so spinning rounds pay nothing for it.
  void stay_awake_while(std::function<bool()> moving) { stay_awake_while_ = std::move(moving); }
  /// Whether the transfer of stay_awake_while is moving now.
  [[nodiscard]] bool must_stay_awake() const { return stay_awake_while_ && stay_awake_while_(); }

  /// Work was done: the next idle period starts with spinning again.
  void reset() {
    idle_since_ = clock::time_point{};
    sleep_ = std::chrono::microseconds(0);
    unclocked_spins_ = 0;
    polite_ = false;
  }

  /// Waits once: a CPU pause while spinning, else a sleep of growing length.
  void pause() {
    const auto nap = next_sleep();
    if (nap.count() == 0) {
      spin();
    } else {
      std::this_thread::sleep_for(nap);
    }
  }

  /// One step of spinning: CPU pauses at first (a syscall costs more than a short
  /// spin on a paravirtualised machine), then sched_yield, so that on a machine with
  /// more busy processes than cores the process we wait for gets the core.
  void spin() const {
    if (polite_) {
      std::this_thread::yield();
    } else {
      relax();
    }
  }

  /// Tells the CPU we are spinning. One pause only: a pause costs up to 140 cycles on
  /// recent x86, and 16 of them added a microsecond to every round trip.
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  /// How long to sleep now; zero while still in the spinning phase. While spinning it
  /// reads the clock only every few rounds: a read costs ~30 ns here, and a round of a
  /// progress loop that reads it less notices an arriving message sooner.
  std::chrono::microseconds next_sleep() {
    if (unclocked_spins_ > 0) {
      --unclocked_spins_;
      return std::chrono::microseconds(0);
    }
    const auto now = clock::now();
    if (idle_since_ == clock::time_point{}) idle_since_ = now;
    const auto idle_for = now - idle_since_;
    if (idle_for < spin_for_) {
      polite_ = idle_for >= polite_after;
      if (!polite_) unclocked_spins_ = spins_per_clock_read - 1;  // a yield costs more than the read
      return std::chrono::microseconds(0);
    }
    if (stay_awake_while_ && stay_awake_while_()) {
      // Naps of 10 or 50 us moved a 64 MiB send (no CMA, 2 cores) at 55 to 65% of this rate.
      polite_ = true;
      return std::chrono::microseconds(0);
    }
    polite_ = false;
    const auto cap = idle_for < patience_ ? std::min(early_cap_, cap_) : cap_;
    sleep_ = std::clamp(sleep_ * 2, std::chrono::microseconds(1), cap);
    return sleep_;
  }

 private:
  /// 200 us, or MPIPOOL_SPIN_US; read once, not per loop.
  static std::chrono::microseconds configured_spin() {
    static const std::chrono::microseconds spin = [] {
      const char* text = std::getenv("MPIPOOL_SPIN_US");
      return std::chrono::microseconds(text != nullptr ? std::atol(text) : 200);
    }();
    return spin;
  }

  static constexpr std::chrono::microseconds polite_after{20};
  static constexpr int spins_per_clock_read = 16;
  std::chrono::microseconds cap_;
  std::chrono::microseconds early_cap_;
  clock::duration patience_;
  std::chrono::microseconds spin_for_;
  clock::time_point idle_since_{};
  std::chrono::microseconds sleep_{0};
  int unclocked_spins_ = 0;
  std::function<bool()> stay_awake_while_;
  bool polite_ = false;  // spinning has lasted past polite_after: yield instead of pausing
};

}  // namespace mpipool::detail
