#include "mpipool/detail/driver.hpp"

#include <atomic>
#include <thread>

#include "backoff.hpp"

namespace mpipool::detail {

namespace {
thread_local deferred_callbacks* active_deferral = nullptr;
std::atomic<int> batches_running{0};
}

void wait_for_running_callbacks(std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (batches_running.load() > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool wait_until(const std::weak_ptr<progress_driver>& driver, const std::function<bool()>& done,
                progress_driver::clock::time_point deadline) {
  if (done()) return true;
  if (auto engine = driver.lock()) return engine->drive_until(done, deadline);
  backoff idle;
  while (!done()) {
    const auto now = progress_driver::clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<progress_driver::clock::duration>(idle.next_sleep(), deadline - now));
  }
  return true;
}

void run_or_defer(std::function<void()> callback) {
  if (active_deferral != nullptr) {
    active_deferral->add(std::move(callback));
  } else {
    callback();
  }
}

deferred_callbacks::deferred_callbacks() : outer_(active_deferral) { active_deferral = this; }

deferred_callbacks::~deferred_callbacks() { run(); }

void deferred_callbacks::run() {
  if (!active_) return;
  active_ = false;
  active_deferral = outer_;
  if (queue_.empty()) return;
  ++batches_running;
  for (auto& callback : queue_) callback();
  queue_.clear();
  --batches_running;
}

}  // namespace mpipool::detail
