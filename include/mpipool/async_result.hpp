#pragma once
// async_result<T> is the future a pool hands back for apply_async and map_async;
// outcome<T> is one item's result-or-error, for callers who want every item.

#include <chrono>
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "mpipool/detail/driver.hpp"
#include "mpipool/errors.hpp"

namespace mpipool {

namespace detail {

/// void results are stored as std::monostate so one code path handles them.
template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Calls `handler` with the error inside `error`, as an mpipool::error.
void visit_error(const std::exception_ptr& error, const std::function<void(const mpipool::error&)>& handler);
std::string error_message(const std::exception_ptr& error);

/// Readiness, waiting and error reporting shared by every result type.
class state_base : public std::enable_shared_from_this<state_base> {
 public:
  state_base() = default;
  state_base(const state_base&) = delete;
  state_base& operator=(const state_base&) = delete;
  virtual ~state_base();

  [[nodiscard]] bool ready() const { return ready_.load(std::memory_order_acquire); }
  void wait() const;
  [[nodiscard]] bool wait_for(std::chrono::nanoseconds timeout) const;
  /// Waiting threads drive this engine instead of sleeping until it delivers.
  void set_driver(std::weak_ptr<progress_driver> driver) { driver_ = std::move(driver); }
  /// Throws the stored error, if any; marks it as seen.
  void rethrow_if_failed() const;
  [[nodiscard]] bool failed() const;
  void fail(std::exception_ptr error);
  void set_error_callback(std::function<void(const mpipool::error&)> callback);
  /// The task, named in the warning about an error nobody retrieved.
  void set_task(std::uint32_t task) { task_ = task; }

 protected:
  /// Marks the state ready and runs callbacks; called by set_value/fail.
  void complete(std::unique_lock<std::mutex>& lock);
  virtual void run_success_callback() = 0;
  [[nodiscard]] virtual bool has_callback() const = 0;
  std::shared_ptr<state_base> keep_alive() { return shared_from_this(); }

  mutable std::mutex mutex_;
  std::atomic<bool> ready_{false};
  std::weak_ptr<progress_driver> driver_;
  std::exception_ptr error_;
  mutable bool error_seen_ = false;
  std::function<void(const mpipool::error&)> error_callback_;
  std::uint32_t task_ = no_task;
  static constexpr std::uint32_t no_task = ~std::uint32_t{0};
};

template <class T>
class result_state final : public state_base {
 public:
  void set_value(stored_t<T> value) {
    std::unique_lock lock(mutex_);
    if (ready_.load(std::memory_order_relaxed)) return;  // a late duplicate: the first answer wins
    value_.emplace(std::move(value));
    complete(lock);
  }
  stored_t<T>& value() {
    wait();
    rethrow_if_failed();
    return *value_;
  }
  void set_callback(std::function<void(const stored_t<T>&)> callback) {
    std::unique_lock lock(mutex_);
    if (!ready_.load(std::memory_order_relaxed)) {
      callback_ = std::move(callback);
      return;
    }
    const bool succeeded = error_ == nullptr;
    lock.unlock();
    if (succeeded && callback) callback(*value_);
  }

 private:
  void run_success_callback() override {
    if (callback_) callback_(*value_);
  }
  bool has_callback() const override { return static_cast<bool>(callback_); }
  std::optional<stored_t<T>> value_;
  std::function<void(const stored_t<T>&)> callback_;
};

}  // namespace detail

/// The result of apply_async or map_async, as in Python's AsyncResult.
/// @code
/// auto r = pool.apply_async(square, 7);
/// r.then([](int y) { std::cout << y; }, [](const mpipool::error& e) { std::cerr << e.what(); });
/// int y = r.get();                                   // blocks; rethrows a task's error
/// bool done = r.wait(std::chrono::seconds(1));        // true when ready
/// @endcode
template <class T>
class async_result {
 public:
  using value_type = T;

  async_result() = default;
  explicit async_result(std::shared_ptr<detail::result_state<T>> state) : state_(std::move(state)) {}

  /// Waits for the result and returns it, or throws the task's error.
  decltype(auto) get() {
    if constexpr (std::is_void_v<T>) {
      state().value();
    } else {
      return static_cast<const T&>(state().value());
    }
  }

  /// As get(), but throws timeout_error if the result is not ready within `timeout`.
  template <class Rep, class Period>
  decltype(auto) get(std::chrono::duration<Rep, Period> timeout) {
    if (!wait(timeout)) {
      throw timeout_error("result not ready after " +
                          std::to_string(std::chrono::duration<double>(timeout).count()) + " s");
    }
    return get();
  }

  void wait() const { state().wait(); }

  /// Returns true if the result became ready within `timeout`.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return state().wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }

  [[nodiscard]] bool ready() const { return state().ready(); }

  /// True if the call completed without error. Like Python, it is an error to ask before ready().
  [[nodiscard]] bool successful() const {
    if (!ready()) throw error("successful() called before the result is ready; call wait() first");
    return !state().failed();
  }

  /// Registers callbacks run once the result is ready: on the pool's progress
  /// thread, or at once in this thread if it is ready already. Keep them short.
  template <class OnSuccess>
  async_result& then(OnSuccess on_success, std::function<void(const error&)> on_error = {}) {
    if (on_error) state().set_error_callback(std::move(on_error));
    if constexpr (std::is_void_v<T>) {
      state().set_callback([cb = std::move(on_success)](const std::monostate&) { cb(); });
    } else {
      state().set_callback(std::move(on_success));
    }
    return *this;
  }

 private:
  detail::result_state<T>& state() const {
    if (!state_) throw error("async_result is empty: it was default-constructed, not returned by a pool");
    return *state_;
  }
  std::shared_ptr<detail::result_state<T>> state_;
};

/// One item's outcome: its value, or the error that its task raised.
/// @code
/// for (const auto& item : pool.map_outcomes(parse, files))
///   if (!item.ok()) std::cerr << item.message() << '\n';
/// @endcode
template <class T>
class outcome {
 public:
  outcome() = default;
  static outcome success(detail::stored_t<T> value) {
    outcome o;
    o.content_.template emplace<1>(std::move(value));
    return o;
  }
  static outcome failure(std::exception_ptr error) {
    outcome o;
    o.content_.template emplace<2>(std::move(error));
    return o;
  }

  [[nodiscard]] bool ok() const { return content_.index() == 1; }
  [[nodiscard]] bool pending() const { return content_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// The value; rethrows the item's error if it failed.
  decltype(auto) value() const {
    if (content_.index() == 2) std::rethrow_exception(std::get<2>(content_));
    if (content_.index() == 0) throw mpipool::error("outcome::value() on an item that has no result yet");
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(std::get<1>(content_));
  }
  /// Moves the value out; rethrows the item's error if it failed.
  detail::stored_t<T> take() {
    value();
    return std::move(std::get<1>(content_));
  }

  [[nodiscard]] std::exception_ptr error() const { return ok() || pending() ? nullptr : std::get<2>(content_); }
  [[nodiscard]] std::string message() const { return detail::error_message(error()); }

 private:
  std::variant<std::monostate, detail::stored_t<T>, std::exception_ptr> content_;
};

}  // namespace mpipool
