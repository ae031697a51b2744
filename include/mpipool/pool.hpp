#pragma once
// mpipool::pool: Python's multiprocessing.Pool for MPI. The methods here are thin
// typed templates: they encode arguments, hand an untyped job to the engine, and
// decode results. Everything that moves bytes lives in src/.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpipool/async_result.hpp"
#include "mpipool/detail/job.hpp"
#include "mpipool/detail/stream_job.hpp"
#include "mpipool/detail/typed_jobs.hpp"
#include "mpipool/environment.hpp"
#include "mpipool/imap.hpp"
#include "mpipool/options.hpp"
#include "mpipool/task.hpp"

namespace mpipool {

namespace detail {

template <class F>
concept task_function = std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>;

template <class F>
using result_of_t = typename function_traits<F>::result;

template <class F>
using first_arg_t = std::tuple_element_t<0, typename function_traits<F>::args>;

/// True if a one-argument task's items lie in memory exactly as a packed chunk holds them.
template <class F, class Range>
constexpr bool contiguous_packable() {
  if constexpr (function_traits<F>::arity != 1 || !std::ranges::contiguous_range<Range>) {
    return false;  // first_arg_t must not be formed for a task without arguments
  } else {
    using item_type = std::ranges::range_value_t<Range>;
    return std::is_same_v<item_type, first_arg_t<F>> && packable_v<item_type>;
  }
}

/// Appends one map item, converting it to the task's parameter type if needed.
template <class Arg, class Item>
void append_converted(encoded_chunk& chunk, const Item& item) {
  if constexpr (std::is_same_v<std::remove_cvref_t<Item>, Arg>) {
    append_item(chunk, item);
  } else {
    const Arg converted(item);
    append_item(chunk, converted);
  }
}

/// Appends one starmap item: a tuple (or pair) of the task's arguments.
template <class Args, class Item>
void append_unpacked(encoded_chunk& chunk, const Item& item) {
  std::apply([&chunk](const auto&... values) { append_call<Args>(chunk, values...); }, item);
}

}  // namespace detail

/// A pool of worker processes.
/// @code
/// int square(int x) { return x * x; }
/// MPIPOOL_TASK(square);
///
/// int main(int argc, char** argv) {
///   return mpipool::run(argc, argv, [](mpipool::pool& pool) {
///     std::vector<int> ys = pool.map(square, std::vector<int>{1, 2, 3});
///   });
/// }
/// @endcode
class pool {
 public:
  /// The static workers: ranks 1..N-1 of `mpirun -n N`. Call on rank 0.
  /// @code
  /// mpipool::pool pool(env, {.mode = mpipool::execution::direct});
  /// @endcode
  explicit pool(environment& env, pool_options options = {});

  /// A dynamic pool: spawns `workers` new processes of this binary with
  /// MPI_Comm_spawn. Works on the master and inside a task (pools within pools).
  /// @code
  /// std::vector<int> work(int n) { mpipool::pool sub(n); return sub.map(sleepawhile, times(n)); }
  /// @endcode
  explicit pool(std::size_t workers, pool_options options = {});

  /// Closes the pool, waits for its work, and releases its workers.
  ~pool();
  pool(pool&&) noexcept;
  pool& operator=(pool&&) noexcept;
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  /// Number of worker processes.
  [[nodiscard]] std::size_t size() const;

  /// Runs f(args...) on a worker and returns its result.
  /// @code
  /// int y = pool.apply(square, 7);
  /// @endcode
  template <detail::task_function F, class... Args>
  detail::result_of_t<F> apply(F f, Args&&... args) {
    return apply({}, f, std::forward<Args>(args)...);
  }
  template <detail::task_function F, class... Args>
  detail::result_of_t<F> apply(const call_options& options, F f, Args&&... args) {
    auto state = submit_single(options, f, std::forward<Args>(args)...);
    if constexpr (std::is_void_v<detail::result_of_t<F>>) {
      state->value();
    } else {
      return std::move(state->value());
    }
  }

  /// Runs f(args...) on a worker; returns at once.
  /// @code
  /// auto r = pool.apply_async(square, 7).then([](int y) { std::cout << y; });
  /// @endcode
  template <detail::task_function F, class... Args>
  async_result<detail::result_of_t<F>> apply_async(F f, Args&&... args) {
    return apply_async({}, f, std::forward<Args>(args)...);
  }
  template <detail::task_function F, class... Args>
  async_result<detail::result_of_t<F>> apply_async(const call_options& options, F f, Args&&... args) {
    return async_result<detail::result_of_t<F>>(submit_single(options, f, std::forward<Args>(args)...));
  }

  /// f applied to every item, in order. Throws the first failed item's error.
  /// Returns nothing for void tasks.
  /// @code
  /// std::vector<int> ys = pool.map(square, xs, {.chunksize = 64});
  /// @endcode
  template <detail::task_function F, std::ranges::input_range Range>
  auto map(F f, Range&& items, call_options options = {}) {
    return take(submit_map<false>(f, items, options, caller_waits));
  }
  template <detail::task_function F, std::ranges::input_range Range>
  auto map_async(F f, Range&& items, call_options options = {}) {
    return wrap(submit_map<false>(f, items, options, caller_returns));
  }

  /// Every item's outcome, failed or not, in order.
  /// @code
  /// for (auto& item : pool.map_outcomes(parse, files)) if (!item) std::cerr << item.message();
  /// @endcode
  template <detail::task_function F, std::ranges::input_range Range>
  std::vector<outcome<detail::result_of_t<F>>> map_outcomes(F f, Range&& items, call_options options = {}) {
    return take(submit_map<true>(f, items, options, caller_waits));
  }

  /// f(a, b, ...) for every tuple (a, b, ...) of `items`, in order.
  /// @code
  /// std::vector<double> d = pool.starmap(distance, std::vector{std::pair{1.0, 2.0}});
  /// @endcode
  template <detail::task_function F, std::ranges::input_range Range>
  auto starmap(F f, Range&& items, call_options options = {}) {
    return take(submit_starmap(f, items, options, caller_waits));
  }
  template <detail::task_function F, std::ranges::input_range Range>
  auto starmap_async(F f, Range&& items, call_options options = {}) {
    return wrap(submit_starmap(f, items, options, caller_returns));
  }

  /// Lazy map in input order: results are yielded as they arrive, and the input
  /// is consumed only as fast as results are read. Default chunksize 1, as in Python.
  /// @code
  /// for (int y : pool.imap(square, std::views::iota(0, 1000))) std::cout << y << '\n';
  /// @endcode
  template <detail::task_function F, std::ranges::viewable_range Range>
  imap_range<detail::result_of_t<F>> imap(F f, Range&& items, call_options options = {}) {
    return submit_stream(f, std::forward<Range>(items), options, true);
  }

  /// As imap, in the order results arrive.
  template <detail::task_function F, std::ranges::viewable_range Range>
  imap_range<detail::result_of_t<F>> imap_unordered(F f, Range&& items, call_options options = {}) {
    return submit_stream(f, std::forward<Range>(items), options, false);
  }

  /// No more tasks may be submitted; work already submitted goes on.
  void close();
  /// Waits for all submitted work. Call close() first, as in Python.
  void join();
  /// Stops at once: unfinished tasks fail with pool_closed, task processes are killed.
  void terminate();

 private:
  detail::executor& engine() const;
  [[nodiscard]] detail::job_settings settings_for(detail::erased_function f, const call_options& options) const;

  /// Waits for a state and moves its value out: the synchronous calls own their state.
  template <class T>
  static T take(const std::shared_ptr<detail::result_state<T>>& state) {
    if constexpr (std::is_void_v<T>) {
      state->value();
    } else {
      return std::move(state->value());
    }
  }
  template <class T>
  static async_result<T> wrap(std::shared_ptr<detail::result_state<T>> state) {
    return async_result<T>(std::move(state));
  }

  // Whether the caller's items outlive the job: a blocking call waits for it to end.
  static constexpr bool caller_waits = true;
  static constexpr bool caller_returns = false;

  template <bool KeepOutcomes, class F, class Range>
  auto submit_map(F f, Range& items, const call_options& options, bool items_outlive_job) {
    static_assert(detail::function_traits<F>::arity == 1, "map needs a one-argument task; use starmap");
    return submit_batch<F, KeepOutcomes>(
        f, items, options, &detail::append_converted<detail::first_arg_t<F>, std::ranges::range_value_t<Range>>,
        items_outlive_job);
  }
  template <class F, class Range>
  auto submit_starmap(F f, Range& items, const call_options& options, bool items_outlive_job) {
    return submit_batch<F, false>(
        f, items, options,
        &detail::append_unpacked<typename detail::function_traits<F>::args, std::ranges::range_value_t<Range>>,
        items_outlive_job);
  }

  template <class F, class... Args>
  auto submit_single(const call_options& options, F f, Args&&... args) {
    using traits = detail::function_traits<F>;
    static_assert(traits::arity == sizeof...(Args), "apply: wrong number of arguments for this task");
    auto settings = settings_for(detail::erase(f), options);
    auto state = std::make_shared<detail::result_state<detail::result_of_t<F>>>();
    state->set_task(settings.task);
    state->set_driver(executor_);
    detail::encoded_chunk chunk;
    detail::append_call<typename traits::args>(chunk, std::forward<Args>(args)...);
    engine().submit(std::make_shared<detail::single_job<detail::result_of_t<F>>>(settings, std::move(chunk), state));
    return state;
  }

  /// Submits one job. Items are encoded now, unless `items_outlive_job` (a blocking
  /// call) and they lie in memory as a packed chunk holds them: then each chunk is
  /// copied as it leaves.
  template <class F, bool KeepOutcomes, class Range, class Append>
  auto submit_batch(F f, Range& items, const call_options& options, Append append, bool items_outlive_job) {
    using R = detail::result_of_t<F>;
    using job_type = detail::batch_job<R, KeepOutcomes>;
    using output = typename job_type::output_task;
    auto settings = settings_for(detail::erase(f), options);
    if constexpr (!std::ranges::sized_range<Range>) {
      // The default chunksize needs the length, as Python's list(iterable) does.
      std::vector<std::ranges::range_value_t<Range>> copied(std::ranges::begin(items), std::ranges::end(items));
      return submit_batch<F, KeepOutcomes>(f, copied, options, append, caller_returns);  // `copied` does not
    } else {
      const std::size_t count = std::ranges::size(items);
      // A chunk counts its items in 32 bits.
      const std::size_t chunksize = std::min<std::size_t>(
          options.chunksize != 0 ? options.chunksize : detail::default_chunksize(count, size()), UINT32_MAX);
      detail::prepared_chunks chunks;
      if constexpr (detail::contiguous_packable<F, Range>()) {
        // The items already lie in memory as a packed chunk holds them.
        using item_type = std::ranges::range_value_t<Range>;
        detail::pack_contiguous(chunks, std::span<const item_type>(std::ranges::data(items), count), chunksize,
                                items_outlive_job);
      } else {
        detail::encoded_chunk chunk;
        std::uint64_t index = 0;
        for (const auto& item : items) {
          if (chunk.count == 0) chunk.first_index = index;
          append(chunk, item);
          ++index;
          if (chunk.count == chunksize) chunks.add(std::exchange(chunk, {}));
        }
        if (chunk.count != 0) chunks.add(std::move(chunk));
      }
      auto state = std::make_shared<detail::result_state<output>>();
      state->set_task(settings.task);
      state->set_driver(executor_);
      engine().submit(std::make_shared<job_type>(settings, std::move(chunks), count, state));
      return state;
    }
  }

  template <class F, class Range>
  imap_range<detail::result_of_t<F>> submit_stream(F f, Range&& items, const call_options& options, bool ordered) {
    using R = detail::result_of_t<F>;
    using view = std::views::all_t<Range>;
    static_assert(detail::function_traits<F>::arity == 1, "imap needs a one-argument task");
    auto settings = settings_for(detail::erase(f), options);
    const std::size_t chunksize = options.chunksize != 0 ? options.chunksize : 1;
    auto buffer = std::make_shared<detail::stream_buffer<R>>(ordered, stream_window(chunksize), executor_);
    engine().submit(std::make_shared<detail::stream_job<R, detail::first_arg_t<F>, view>>(
        settings, std::views::all(std::forward<Range>(items)), chunksize, buffer));
    return imap_range<R>(std::move(buffer), executor_);
  }

  /// Items an imap may have issued but not yet yielded: enough to keep every worker busy.
  [[nodiscard]] std::size_t stream_window(std::size_t chunksize) const;

  std::shared_ptr<detail::executor> executor_;
  pool_options options_;
};

/// Stops the warm workers that ended dynamic pools of this process keep for
/// reuse, and returns their slots. Happens by itself after MPIPOOL_WARM_SECONDS
/// (default 30) idle, when slots run short, and at exit. Limitation: called in a
/// supervised task, it does nothing, because the warm workers of pools opened in
/// tasks belong to the rank; run such a task in execution::direct to control them.
void stop_warm_workers();

/// The one-call form: sets up MPI, serves on workers, and runs `body` with a pool
/// of the static workers on rank 0. Returns the process exit code.
/// @code
/// int main(int argc, char** argv) {
///   return mpipool::run(argc, argv, [](mpipool::pool& pool) { pool.map(square, xs); });
/// }
/// @endcode
template <class Body>
int run(int& argc, char**& argv, Body&& body, pool_options options = {});

namespace detail {
/// Runs `body` with a pool of the static workers; reports an escaping error and returns 1.
int run_master(environment& env, const std::function<void(pool&)>& body, pool_options options);
}  // namespace detail

template <class Body>
int run(int& argc, char**& argv, Body&& body, pool_options options) {
  environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  return detail::run_master(env, std::forward<Body>(body), std::move(options));
}

}  // namespace mpipool
