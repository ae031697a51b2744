#pragma once
// What can travel as a task argument or result: anything Boost.Serialization
// handles. This header pulls in Boost's support for the common standard types and
// adds std::tuple and std::optional, which Boost 1.74 lacks.
//
// A user struct needs only a serialize member:
// @code
// struct particle {
//   double x, y;
//   template <class Archive> void serialize(Archive& ar, unsigned) { ar & x & y; }
// };
// @endcode

#include <cstddef>
#include <optional>
#include <span>
#include <tuple>
#include <utility>

#include <boost/serialization/array.hpp>
#include <boost/serialization/deque.hpp>
#include <boost/serialization/list.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/split_free.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unordered_map.hpp>
#include <boost/serialization/unordered_set.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/variant.hpp>
#include <boost/serialization/vector.hpp>

#include "mpipool/detail/archive.hpp"
#include "mpipool/detail/byte_buffer.hpp"

namespace boost::serialization {

template <class Archive, class... Ts>
void serialize(Archive& archive, std::tuple<Ts...>& tuple, unsigned /*version*/) {
  std::apply([&archive](auto&... element) { (archive & ... & element); }, tuple);
}

template <class Archive, class T>
void save(Archive& archive, const std::optional<T>& value, unsigned /*version*/) {
  const bool engaged = value.has_value();
  archive << engaged;
  if (engaged) archive << *value;
}

template <class Archive, class T>
void load(Archive& archive, std::optional<T>& value, unsigned /*version*/) {
  bool engaged = false;
  archive >> engaged;
  if (!engaged) {
    value.reset();
    return;
  }
  if constexpr (std::is_default_constructible_v<T>) {
    value.emplace();
    archive >> *value;
  } else {
    static_assert(std::is_default_constructible_v<T>, "std::optional<T> needs a default-constructible T");
  }
}

template <class Archive, class T>
void serialize(Archive& archive, std::optional<T>& value, unsigned version) {
  split_free(archive, value, version);
}

}  // namespace boost::serialization

namespace mpipool {

/// Serializes a value exactly as mpipool puts it on the wire.
/// @code
/// auto bytes = mpipool::to_bytes(std::vector<int>{1, 2, 3});
/// auto back = mpipool::from_bytes<std::vector<int>>(bytes);
/// @endcode
template <class T>
detail::byte_buffer to_bytes(const T& value);

/// Reads a value written by to_bytes(); throws serialization_error on bad bytes.
template <class T>
T from_bytes(std::span<const std::byte> bytes);

}  // namespace mpipool

#include "mpipool/detail/codec.hpp"

namespace mpipool {

template <class T>
detail::byte_buffer to_bytes(const T& value) {
  detail::byte_buffer out;
  detail::encode_values(out, value);
  return out;
}

template <class T>
T from_bytes(std::span<const std::byte> bytes) {
  return std::get<0>(detail::decode_values<std::tuple<T>>(bytes));
}

}  // namespace mpipool
