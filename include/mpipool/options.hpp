#pragma once
// Options for pools and for single calls.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/codec.hpp"
#include "mpipool/task.hpp"

namespace mpipool {

/// A registered task together with its arguments, encoded now; used for initializers.
/// @code
/// mpipool::pool_options opts;
/// opts.initializer = mpipool::call(load_table, std::string("table.bin"));
/// @endcode
struct bound_call {
  detail::task_id task = 0;
  detail::byte_buffer args;
};

template <class F, class... Args>
bound_call call(F function, Args&&... args) {
  using traits = detail::function_traits<F>;
  static_assert(traits::arity == sizeof...(Args), "mpipool::call: wrong number of arguments for this task");
  bound_call bound{detail::registry::instance().id_of(detail::erase(function)), {}};
  auto converted = typename traits::args(std::forward<Args>(args)...);
  std::apply([&bound](const auto&... values) { detail::encode_values(bound.args, values...); }, converted);
  return bound;
}

/// Where user code runs on a worker.
enum class execution {
  /// In a task process that the worker rank forks and supervises: a task that
  /// crashes (SIGSEGV, abort, exit, out of memory) fails alone. The default.
  supervised,
  /// In the worker rank itself: the fastest, for short tasks whose code you trust.
  /// A crash takes the job down, as in plain MPI.
  direct,
};

/// Where and how a dynamic pool spawns its workers.
/// @code
/// mpipool::spawn_options where;
/// where.hosts = {"n2", "n3"};   // only these nodes
/// where.soft = true;            // take fewer workers if slots are short
/// mpipool::pool sub(8, {.spawn = where});
/// @endcode
struct spawn_options {
  std::vector<std::string> hosts{};///< allowed nodes; empty: any node of the allocation
  bool soft = false;               ///< accept fewer workers than asked, but at least one
  bool oversubscribe = false;      ///< allow more workers than free slots
  bool lend_parent_slot = true;    ///< a task blocked on its sub-pool lends its own slot to it
  bool reuse = true;               ///< reuse warm workers of an earlier pool of this process
};

struct pool_options {
  /// Runs once in every worker (every task process) before its first task.
  std::optional<bound_call> initializer{};
  execution mode = execution::supervised;
  /// Times a lost task (worker crash) is run again before its item fails.
  int retries = 0;
  /// Per-task time limit; zero means none. Needs supervised mode.
  std::chrono::milliseconds timeout{0};
  /// Replace a worker's task process after this many tasks; zero means never.
  std::size_t maxtasksperchild = 0;
  /// Chunks kept in flight per worker, at most 256; zero adapts it to the task duration.
  std::size_t prefetch = 0;
  /// Memory each task process may allocate, in bytes, beyond what it inherits from its
  /// rank (an RLIMIT_AS on top of the current size); zero means no limit. A task that
  /// runs out fails alone: std::bad_alloc as a remote_error, or worker_lost if killed.
  std::size_t task_memory_limit = 0;
  /// For dynamic pools (pool(n)): placement and slots.
  spawn_options spawn{};
};

/// Per-call settings for map-like calls, and for apply via the overloads that take it first.
/// @code
/// pool.map(square, xs, {.chunksize = 100});
/// pool.apply_async({.timeout = std::chrono::seconds(5), .retries = 2}, simulate, 42);
/// @endcode
struct call_options {
  /// Items per message; zero picks Python's default (len / (4 x workers), rounded up).
  std::size_t chunksize = 0;
  /// Overrides pool_options::timeout when set.
  std::optional<std::chrono::milliseconds> timeout{};
  /// Overrides pool_options::retries when set.
  std::optional<int> retries{};
};

}  // namespace mpipool
