#pragma once
// Encodes argument tuples and results. Arithmetic values are copied as raw bytes,
// which is exactly what a Boost binary archive writes for them, so the fast path
// and the archive path produce the same wire format; everything else goes
// through a Boost archive.

#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>

#include "mpipool/detail/archive.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/detail/type_name.hpp"
#include "mpipool/errors.hpp"

namespace mpipool::detail {

template <class... Ts>
inline constexpr bool all_raw_v = (std::is_arithmetic_v<Ts> && ...);

/// Turns whatever a failed Boost (de)serialization threw into a serialization_error.
[[noreturn]] void rethrow_as_serialization_error(const char* action, const std::string& type);

template <class... Ts>
void encode_values(byte_buffer& out, const Ts&... values) {
  if constexpr (all_raw_v<Ts...>) {
    (out.put(values), ...);
  } else {
    try {
      buffer_sink sink(out);
      boost::archive::binary_oarchive archive(sink, archive_flags);
      ((archive << values), ...);
    } catch (...) {
      rethrow_as_serialization_error("serialize", type_name<std::tuple<Ts...>>());
    }
  }
}

template <class Tuple>
Tuple decode_values(std::span<const std::byte> bytes) {
  Tuple values{};
  std::size_t unread = 0;
  if constexpr ([]<class... Ts>(std::tuple<Ts...>*) { return all_raw_v<Ts...>; }(static_cast<Tuple*>(nullptr))) {
    byte_reader reader(bytes);
    std::apply([&reader](auto&... value) { ((value = reader.template get<std::decay_t<decltype(value)>>()), ...); },
               values);
    unread = reader.remaining();
  } else {
    try {
      span_source source(bytes);
      checked_iarchive archive(source);
      std::apply([&archive](auto&... value) { ((archive >> value), ...); }, values);
      unread = source.remaining();
    } catch (...) {
      rethrow_as_serialization_error("deserialize", type_name<Tuple>());
    }
  }
  if (unread != 0) {
    throw serialization_error("payload for " + type_name<Tuple>() + " has " + std::to_string(unread) +
                              " bytes left over: sender and receiver disagree on the types "
                              "(were master and workers built from the same source?)");
  }
  return values;
}

}  // namespace mpipool::detail
