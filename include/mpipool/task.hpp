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

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/codec.hpp"
#include "mpipool/detail/type_name.hpp"

namespace mpipool::detail {

using task_id = std::uint32_t;
using erased_function = void (*)();

/// Runs one item: decodes its arguments, calls the function, appends the encoded result.
using item_invoker = void (*)(std::span<const std::byte> args, byte_buffer& result);

struct task_entry {
  std::string name;
  std::string signature;  // demangled function type; part of the registry fingerprint
  erased_function function = nullptr;
  item_invoker invoke = nullptr;
};

/// All tasks of this binary. Ids are positions in name order, so every process of
/// the same binary agrees on them; the fingerprint proves that it does.
class registry {
 public:
  static registry& instance();

  void add(task_entry entry);
  [[nodiscard]] task_id id_of(erased_function function);  // throws unknown_task
  [[nodiscard]] const task_entry& entry(task_id id);      // throws unknown_task
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

template <auto Function>
void invoke_item(std::span<const std::byte> arg_bytes, byte_buffer& result) {
  using traits = function_traits<decltype(Function)>;
  auto args = decode_values<typename traits::args>(arg_bytes);
  auto call = [&args]<std::size_t... I>(std::index_sequence<I...>) -> decltype(auto) {
    return Function(pass_argument<std::tuple_element_t<I, typename traits::params>>(std::get<I>(args))...);
  };
  if constexpr (std::is_void_v<typename traits::result>) {
    call(std::make_index_sequence<traits::arity>{});
  } else {
    encode_values(result, call(std::make_index_sequence<traits::arity>{}));
  }
}

template <auto Function>
struct task_registrar {
  static_assert(std::is_pointer_v<decltype(Function)>, "MPIPOOL_TASK needs a plain function");
  explicit task_registrar(const char* name) {
    registry::instance().add({name, type_name<decltype(Function)>(), reinterpret_cast<erased_function>(Function),
                              &invoke_item<Function>});
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
