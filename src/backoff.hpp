#pragma once
// How an idle progress loop waits. It spins for a short while after the last
// piece of work, because the next message is usually close behind; then it
// sleeps, doubling the sleep up to a cap, so a master waiting on long tasks
// costs almost no CPU. Pipelining (several tasks in flight per worker) hides
// the sleep from the workers.

#include <algorithm>
#include <chrono>

namespace mpipool::detail {

class backoff {
 public:
  using clock = std::chrono::steady_clock;

  explicit backoff(std::chrono::microseconds cap = std::chrono::microseconds(1000)) : cap_(cap) {}

  /// Work was done: the next idle period starts with spinning again.
  void reset() {
    idle_since_ = clock::time_point{};
    sleep_ = std::chrono::microseconds(0);
  }

  /// How long to sleep now; zero while still in the spinning phase.
  std::chrono::microseconds next_sleep() {
    const auto now = clock::now();
    if (idle_since_ == clock::time_point{}) idle_since_ = now;
    if (now - idle_since_ < spin_for) return std::chrono::microseconds(0);
    sleep_ = std::clamp(sleep_ * 2, std::chrono::microseconds(1), cap_);
    return sleep_;
  }

 private:
  static constexpr std::chrono::microseconds spin_for{50};
  std::chrono::microseconds cap_;
  clock::time_point idle_since_{};
  std::chrono::microseconds sleep_{0};
};

}  // namespace mpipool::detail
