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

bool state_base::ready() const {
  std::lock_guard lock(mutex_);
  return ready_;
}

void state_base::wait() const {
  std::unique_lock lock(mutex_);
  ready_cv_.wait(lock, [this] { return ready_; });
}

bool state_base::wait_for(std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(mutex_);
  return ready_cv_.wait_for(lock, timeout, [this] { return ready_; });
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
  if (ready_) return;  // the first answer wins
  error_ = std::move(error);
  complete(lock);
}

void state_base::set_error_callback(std::function<void(const mpipool::error&)> callback) {
  std::unique_lock lock(mutex_);
  if (!ready_) {
    error_callback_ = std::move(callback);
    return;
  }
  const auto error = error_;
  error_callback_ = callback;
  lock.unlock();
  if (error) visit_error(error, callback);
}

void state_base::complete(std::unique_lock<std::mutex>& lock) {
  ready_ = true;
  const auto error = error_;
  auto on_error = error_callback_;
  lock.unlock();
  ready_cv_.notify_all();
  // Callbacks run outside the lock so they may call back into the pool.
  try {
    if (error) {
      if (on_error) visit_error(error, on_error);
    } else {
      run_success_callback();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpipool: warning: a result callback threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "mpipool: warning: a result callback threw a non-standard exception\n");
  }
}

}  // namespace mpipool::detail
