#pragma once
// Encodes argument tuples and results. Arithmetic values, and vectors of most of
// them (is_number_vector), are copied as raw bytes (a vector: a u64 count, then its
// elements), which is exactly what a Boost binary archive writes for them, so the
// fast path and the archive path produce the same wire format; everything else
// goes through a Boost archive.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iterator>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "mpipool/detail/archive.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/detail/huge_pages.hpp"
#include "mpipool/detail/type_name.hpp"
#include "mpipool/errors.hpp"

namespace mpipool::detail {

template <class... Ts>
inline constexpr bool all_raw_v = (std::is_arithmetic_v<Ts> && ...);

/// A std::vector of numbers that Boost writes as a count and the raw elements: not
/// bool (a bit set), and none of the types that Boost's collection traits leave out
/// (long double, char8/16/32_t), for which it adds class information first.
template <class T>
inline constexpr bool boost_raw_element_v =
    std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, long double> &&
    !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t> &&
    sizeof(T) <= sizeof(std::uint64_t);
template <class T>
struct is_number_vector : std::false_type {};
template <class T>
struct is_number_vector<std::vector<T>> : std::bool_constant<boost_raw_element_v<T>> {};

/// Values the fast path writes without Boost: numbers and vectors of numbers.
template <class... Ts>
inline constexpr bool all_flat_v = ((std::is_arithmetic_v<Ts> || is_number_vector<Ts>::value) && ...);

template <class T>
void put_flat(byte_buffer& out, const T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    out.put(value);
  } else {
    out.put<std::uint64_t>(value.size());
    out.append(value.data(), value.size() * sizeof(typename T::value_type));
  }
}

/// Reads numbers from bytes at any alignment (a payload's offset in its message is arbitrary).
template <class T>
struct unaligned_iterator {
  using iterator_category = std::forward_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = T;
  const std::byte* at = nullptr;
  T operator*() const {
    T value;
    std::memcpy(&value, at, sizeof(T));
    return value;
  }
  unaligned_iterator& operator++() {
    at += sizeof(T);
    return *this;
  }
  unaligned_iterator operator++(int) {
    auto before = *this;
    at += sizeof(T);
    return before;
  }
  bool operator==(const unaligned_iterator&) const = default;
};

/// Unaligned arrays from this size up are copied block by block through aligned memory.
inline constexpr std::size_t unaligned_block_bytes = 16384;  // a multiple of every element size

/// A vector's count is checked against the bytes that remain, as checked_iarchive does.
[[noreturn]] void throw_oversized_collection(std::uint64_t count, std::size_t remaining);

template <class T>
T get_flat(byte_reader& reader) {
  if constexpr (std::is_arithmetic_v<T>) {
    return reader.template get<T>();
  } else {
    using element = typename T::value_type;
    const auto count = reader.template get<std::uint64_t>();
    if (count > reader.remaining() / sizeof(element)) throw_oversized_collection(count, reader.remaining());
    const auto* first = reader.take(count * sizeof(element)).data();
    const auto* last = first + count * sizeof(element);
    // Copied in, not zero-filled first: for a large array the fill costs as much as the
    // copy. Aligned elements go by memmove (about 1.5x faster than element by element).
    T values;
    if (count * sizeof(element) >= huge_page_advice_bytes) {
      values.reserve(count);
      advise_huge_pages(values.data(), count * sizeof(element));
    }
    if (reinterpret_cast<std::uintptr_t>(first) % alignof(element) == 0) {
      values.assign(reinterpret_cast<const element*>(first), reinterpret_cast<const element*>(last));
    } else if (count * sizeof(element) < unaligned_block_bytes) {
      values.assign(unaligned_iterator<element>{first}, unaligned_iterator<element>{last});
    } else {
      // A large unaligned array (a result's bytes follow its one-byte status) goes
      // through an aligned block that stays in cache, then by memmove: element by
      // element it took 28% of the master's time in a 64 MiB echo.
      static_assert(unaligned_block_bytes % sizeof(element) == 0, "a block must hold whole elements");
      values.reserve(count);
      alignas(64) std::byte block[unaligned_block_bytes];
      for (const std::byte* at = first; at != last;) {
        const auto bytes = std::min<std::size_t>(sizeof block, static_cast<std::size_t>(last - at));
        std::memcpy(block, at, bytes);
        const auto* elements = reinterpret_cast<const element*>(block);
        values.insert(values.end(), elements, elements + bytes / sizeof(element));
        at += bytes;
      }
    }
    return values;
  }
}

/// Turns whatever a failed Boost (de)serialization threw into a serialization_error.
[[noreturn]] void rethrow_as_serialization_error(const char* action, const std::string& type);

template <class... Ts>
void encode_values(byte_buffer& out, const Ts&... values) {
  if constexpr (all_flat_v<Ts...>) {
    (put_flat(out, values), ...);
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
  if constexpr ([]<class... Ts>(std::tuple<Ts...>*) { return all_flat_v<Ts...>; }(static_cast<Tuple*>(nullptr))) {
    byte_reader reader(bytes);
    std::apply([&reader](auto&... value) { ((value = get_flat<std::decay_t<decltype(value)>>(reader)), ...); },
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
