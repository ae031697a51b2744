#pragma once
// A thread that waits for a result drives the pool's progress itself (the
// leader/follower pattern): no hand-off to the progress thread and back, which
// would cost two thread wake-ups per round trip.

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace mpipool::detail {

class progress_driver {
 public:
  using clock = std::chrono::steady_clock;
  virtual ~progress_driver() = default;
  /// Makes progress until done() is true or the deadline passes; returns done().
  virtual bool drive_until(const std::function<bool()>& done, clock::time_point deadline) = 0;
};

/// Waits until done(): driven by `driver` when it is alive, else polled with back-off.
bool wait_until(const std::weak_ptr<progress_driver>& driver, const std::function<bool()>& done,
                progress_driver::clock::time_point deadline);

/// Result callbacks must not run while a thread holds the engine, or a callback
/// that uses the pool would deadlock. While a deferred_callbacks scope is active
/// on this thread, run_or_defer() queues them; run() runs the queue.
void run_or_defer(std::function<void()> callback);

/// Waits until no thread is running a batch of result callbacks (or `limit` passes).
void wait_for_running_callbacks(std::chrono::milliseconds limit);

class deferred_callbacks {
 public:
  deferred_callbacks();
  ~deferred_callbacks();
  deferred_callbacks(const deferred_callbacks&) = delete;
  deferred_callbacks& operator=(const deferred_callbacks&) = delete;
  void add(std::function<void()> callback) { queue_.push_back(std::move(callback)); }
  /// Ends deferral on this thread and runs what was queued.
  void run();

 private:
  std::vector<std::function<void()>> queue_;
  deferred_callbacks* outer_;
  bool active_ = true;
};

}  // namespace mpipool::detail
