#pragma once
// The task registry. Function pointers differ between processes, so a task travels
// by name: MPIPOOL_TASK(f) registers f once, in every process of the binary, and
// the call site stays typed because argument and result types come from f itself.
//
// @code
// int square(int x) { return x * x; }
// MPIPOOL_TASK(square);
// ...
// std::vector<int> ys = pool.map(square, xs);
// @endcode

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mpipool/detail/borrowed_bytes.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/codec.hpp"
#include "mpipool/detail/type_name.hpp"

namespace mpipool::detail {

using task_id = std::uint32_t;
using erased_function = void (*)();

/// Runs one item: decodes its arguments, calls the function, appends the encoded result.
using item_invoker = void (*)(std::span<const std::byte> args, byte_buffer& result);

/// Which item a typed loop is running, for whoever must name it if the process dies.
struct running_item {
  std::atomic<std::uint32_t> index{0};
  /// Items from `index` on that may be the one running: 1 when `index` is exact.
  std::atomic<std::uint32_t> span{1};
};

/// When a typed loop writes what it runs to its running_item.
enum class item_tracking {
  on_failure,   // only the item that throws: a rank running tasks itself dies with them
  every_block,  // each block of items, and the item that throws: a task process's progress board
};

/// Runs `count` items of a packed chunk (see packed_loop) in one typed loop. When an
/// item throws, `running.index` holds its absolute index (`first` + its place).
using packed_invoker = void (*)(const std::byte* args, std::uint32_t count, std::byte* results,
                                std::uint32_t first, running_item& running);

struct task_entry {
  std::string name;
  std::string signature;  // demangled function type; part of the registry fingerprint
  erased_function function = nullptr;
  item_invoker invoke = nullptr;
  // Both null unless arguments and result are all arithmetic.
  packed_invoker run_packed = nullptr;          // item_tracking::on_failure
  packed_invoker run_packed_tracked = nullptr;  // item_tracking::every_block
  std::uint32_t packed_arg_size = 0;
  std::uint32_t packed_result_size = 0;
};

/// All tasks of this binary. Ids are positions in name order, so every process of
/// the same binary agrees on them; the fingerprint proves that it does.
class registry {
 public:
  static registry& instance();

  void add(task_entry entry);
  [[nodiscard]] task_id id_of(erased_function function);  // throws unknown_task
  [[nodiscard]] const task_entry& entry(task_id id);      // throws unknown_task
  [[nodiscard]] const task_entry* find(task_id id);       // null if unknown
  [[nodiscard]] std::uint64_t fingerprint();
  [[nodiscard]] std::size_t size();

 private:
  /// Sorts by name and assigns ids, once; afterwards lookups take no lock.
  void freeze();

  std::mutex mutex_;
  std::atomic<bool> frozen_{false};
  std::vector<task_entry> entries_;
  std::unordered_map<erased_function, task_id> ids_by_function_;
  std::uint64_t fingerprint_ = 0;
};

template <class F>
struct function_traits;

template <class R, class... A>
struct function_traits<R (*)(A...)> {
  using result = R;
  using params = std::tuple<A...>;
  using args = std::tuple<std::decay_t<A>...>;
  static constexpr std::size_t arity = sizeof...(A);
};

template <class R, class... A>
struct function_traits<R (*)(A...) noexcept> : function_traits<R (*)(A...)> {};

/// Decoded arguments are owned by the invoker: move them into by-value and
/// rvalue parameters, and bind them to lvalue-reference parameters.
template <class Param, class Value>
decltype(auto) pass_argument(Value& value) {
  if constexpr (std::is_lvalue_reference_v<Param>) {
    return static_cast<Value&>(value);
  } else {
    return static_cast<Value&&>(value);
  }
}

/// Calls Function with arguments it owns (see pass_argument).
template <auto Function>
decltype(auto) call_with(typename function_traits<decltype(Function)>::args& args) {
  using traits = function_traits<decltype(Function)>;
  return [&args]<std::size_t... I>(std::index_sequence<I...>) -> decltype(auto) {
    return Function(pass_argument<std::tuple_element_t<I, typename traits::params>>(std::get<I>(args))...);
  }(std::make_index_sequence<traits::arity>{});
}

/// Appends a task's result. A large vector of numbers that the task returned by value
/// (`Returned` is not a reference) goes to the thread's borrowed_bytes collector, if
/// one is active, instead of being copied.
template <class Returned, class R>
void encode_result(byte_buffer& out, R&& value) {
  using plain = std::remove_cvref_t<R>;
  if constexpr (is_number_vector<plain>::value && !std::is_reference_v<Returned>) {
    auto* collector = borrowed_bytes::current();
    if (collector != nullptr && value.size() * sizeof(typename plain::value_type) >= borrowed_bytes::threshold) {
      out.put<std::uint64_t>(value.size());  // the count, as put_flat writes it
      collector->adopt(out, std::move(value));
      return;
    }
  }
  encode_values(out, value);
}

template <auto Function>
void invoke_item(std::span<const std::byte> arg_bytes, byte_buffer& result) {
  using traits = function_traits<decltype(Function)>;
  auto args = decode_values<typename traits::args>(arg_bytes);
  if constexpr (std::is_void_v<typename traits::result>) {
    call_with<Function>(args);
  } else {
    encode_result<typename traits::result>(result, call_with<Function>(args));
  }
}

/// A packed item is the raw bytes of its arguments, which is also their encoding
/// (encode_values), so one chunk can run either item by item or in a typed loop.
template <class... Ts>
inline constexpr bool packable_v = sizeof...(Ts) > 0 && all_raw_v<Ts...>;

template <class Tuple>
struct packed_args;
template <class... Ts>
struct packed_args<std::tuple<Ts...>> {
  static constexpr bool value = packable_v<Ts...>;
  static constexpr std::uint32_t size = (0 + ... + sizeof(Ts));
};

template <class R>
inline constexpr bool packable_result_v = std::is_void_v<R> || std::is_arithmetic_v<R>;

/// Runs packed item `i`: its arguments from `args`, its result (if any) to `results`.
template <auto Function>
void run_packed_item(const std::byte* args, std::byte* results, std::uint32_t i) {
  using traits = function_traits<decltype(Function)>;
  using R = typename traits::result;
  constexpr std::uint32_t arg_size = packed_args<typename traits::args>::size;
  typename traits::args values;
  std::size_t offset = 0;
  std::apply(
      [&](auto&... value) {
        ((std::memcpy(&value, args + std::size_t{i} * arg_size + offset, sizeof value), offset += sizeof value),
         ...);
      },
      values);
  if constexpr (std::is_void_v<R>) {
    call_with<Function>(values);
  } else {
    const R result = call_with<Function>(values);
    std::memcpy(results + std::size_t{i} * sizeof(R), &result, sizeof(R));
  }
}

/// The typed loop over a packed chunk: no decoding, no per-item framing.
///
/// Items run in blocks of 16 through local arrays while more than a block is left:
/// a loop of known length over memory nothing else aliases is one GCC vectorizes
/// at -O2 (one by one, a no-op task took 1.4 ns an item, half the time of a map
/// of 200,000 items; docs/benchmarks.md). The rest run one by one, each named
/// exactly, so a chunk of one block or less, such as the re-run of a block a task
/// process died in, names every item it runs.
template <auto Function, item_tracking Tracking>
void packed_loop(const std::byte* args, std::uint32_t count, std::byte* results, std::uint32_t first,
                 running_item& running) {
  using traits = function_traits<decltype(Function)>;
  constexpr std::uint32_t arg_size = packed_args<typename traits::args>::size;
  constexpr std::size_t result_size = [] {
    if constexpr (std::is_void_v<typename traits::result>) return std::size_t{0};
    else return sizeof(typename traits::result);
  }();
  constexpr std::uint32_t block = 16;
  constexpr bool tracked = Tracking == item_tracking::every_block;
  std::byte staged_args[block * arg_size];
  std::byte staged_results[block * std::max<std::size_t>(result_size, 1)];
  std::uint32_t begin = 0;
  std::uint32_t k = 0;
  try {
    if constexpr (tracked) running.span.store(block, std::memory_order_relaxed);
    for (; count - begin > block; begin += block) {
      if constexpr (tracked) running.index.store(first + begin, std::memory_order_relaxed);
      std::memcpy(staged_args, args + std::size_t{begin} * arg_size, sizeof staged_args);
      for (k = 0; k < block; ++k) run_packed_item<Function>(staged_args, staged_results, k);
      if constexpr (result_size > 0) std::memcpy(results + begin * result_size, staged_results, block * result_size);
    }
    if constexpr (tracked) running.span.store(1, std::memory_order_relaxed);
    for (k = begin; k < count; ++k) {
      if constexpr (tracked) running.index.store(first + k, std::memory_order_relaxed);
      run_packed_item<Function>(args, results, k);
    }
  } catch (...) {
    if (count - begin > block) {  // it threw in a block: the results of the items before it are still staged
      if constexpr (result_size > 0) std::memcpy(results + begin * result_size, staged_results, k * result_size);
      k += begin;
    }
    running.span.store(1, std::memory_order_relaxed);
    running.index.store(first + k, std::memory_order_relaxed);
    throw;
  }
}

template <auto Function>
task_entry make_task_entry(const char* name) {
  using traits = function_traits<decltype(Function)>;
  task_entry entry{name, type_name<decltype(Function)>(), reinterpret_cast<erased_function>(Function),
                   &invoke_item<Function>};
  if constexpr (packed_args<typename traits::args>::value && packable_result_v<typename traits::result>) {
    entry.run_packed = &packed_loop<Function, item_tracking::on_failure>;
    entry.run_packed_tracked = &packed_loop<Function, item_tracking::every_block>;
    entry.packed_arg_size = packed_args<typename traits::args>::size;
    if constexpr (!std::is_void_v<typename traits::result>) entry.packed_result_size = sizeof(typename traits::result);
  }
  return entry;
}

template <auto Function>
struct task_registrar {
  static_assert(std::is_pointer_v<decltype(Function)>, "MPIPOOL_TASK needs a plain function");
  explicit task_registrar(const char* name) {
    registry::instance().add(make_task_entry<Function>(name));
  }
};

template <class F>
erased_function erase(F function) {
  return reinterpret_cast<erased_function>(function);
}

}  // namespace mpipool::detail

#define MPIPOOL_DETAIL_CAT2(a, b) a##b
#define MPIPOOL_DETAIL_CAT(a, b) MPIPOOL_DETAIL_CAT2(a, b)

/// Registers a plain function as a task under its own name. Use it once, at
/// namespace scope, in any file of the binary.
/// @code
/// double area(double r) { return 3.14159 * r * r; }
/// MPIPOOL_TASK(area);
/// @endcode
#define MPIPOOL_TASK(function) MPIPOOL_TASK_NAMED(function, #function)

/// Registers a function under an explicit name, for two functions that share a name.
/// @code
/// MPIPOOL_TASK_NAMED(physics::step, "physics_step");
/// @endcode
#define MPIPOOL_TASK_NAMED(function, name)                                                            \
  static const ::mpipool::detail::task_registrar<&function> MPIPOOL_DETAIL_CAT(mpipool_task_registrar_, \
                                                                               __COUNTER__) {         \
    name                                                                                              \
  }
