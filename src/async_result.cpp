#include "mpipool/async_result.hpp"

#include <cstdio>

#include "mpipool/task.hpp"

namespace mpipool::detail {

void visit_error(const std::exception_ptr& error, const std::function<void(const mpipool::error&)>& handler) {
  try {
    std::rethrow_exception(error);
  } catch (const mpipool::error& e) {
    handler(e);
  } catch (const std::exception& e) {
    handler(mpipool::error(e.what()));
  } catch (...) {
    handler(mpipool::error("unknown error"));
  }
}

std::string error_message(const std::exception_ptr& error) {
  if (!error) return {};
  std::string text;
  visit_error(error, [&text](const mpipool::error& e) { text = e.what(); });
  return text;
}

state_base::~state_base() {
  // Like an unobserved exception in Python's asyncio: never swallow it silently.
  if (error_ && !error_seen_ && !error_callback_) {
    std::string task = "a task";
    if (task_ != no_task) {
      try {
        task = "task '" + registry::instance().entry(task_).name + "'";
      } catch (...) {
      }
    }
    std::fprintf(stderr, "mpipool: warning: %s failed and its result was never retrieved: %s\n", task.c_str(),
                 error_message(error_).c_str());
  }
}

void state_base::wait() const {
  wait_until(driver_, [this] { return ready(); }, progress_driver::clock::time_point::max());
}

bool state_base::wait_for(std::chrono::nanoseconds timeout) const {
  return wait_until(driver_, [this] { return ready(); }, progress_driver::clock::now() + timeout);
}

void state_base::rethrow_if_failed() const {
  std::lock_guard lock(mutex_);
  if (error_) {
    error_seen_ = true;
    std::rethrow_exception(error_);
  }
}

bool state_base::failed() const {
  std::lock_guard lock(mutex_);
  error_seen_ = true;
  return error_ != nullptr;
}

void state_base::fail(std::exception_ptr error) {
  std::unique_lock lock(mutex_);
  if (ready_.load(std::memory_order_relaxed)) return;  // the first answer wins
  error_ = std::move(error);
  complete(lock);
}

void state_base::set_error_callback(std::function<void(const mpipool::error&)> callback) {
  std::unique_lock lock(mutex_);
  if (!ready_.load(std::memory_order_relaxed)) {
    error_callback_ = std::move(callback);
    return;
  }
  const auto error = error_;
  error_callback_ = callback;
  lock.unlock();
  if (error) visit_error(error, callback);
}

void state_base::complete(std::unique_lock<std::mutex>& lock) {
  const auto error = error_;
  auto on_error = error_callback_;
  ready_.store(true, std::memory_order_release);
  lock.unlock();
  const bool has_success_callback = !error && has_callback();
  if (!(error ? static_cast<bool>(on_error) : has_success_callback)) return;
  // Callbacks never run while this thread holds the engine, so they may use the pool.
  run_or_defer([this, error, on_error, keep = keep_alive()] {
    try {
      if (error) {
        visit_error(error, on_error);
      } else {
        run_success_callback();
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mpipool: warning: a result callback threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "mpipool: warning: a result callback threw a non-standard exception\n");
    }
  });
}

}  // namespace mpipool::detail
