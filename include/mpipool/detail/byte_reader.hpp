#pragma once
// Bounds-checked reading of a received message: a truncated message or a length
// field larger than the message becomes a serialization_error, never a bad read.

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "mpipool/errors.hpp"

namespace mpipool::detail {

class byte_reader {
 public:
  explicit byte_reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, take(sizeof(T)).data(), sizeof(T));
    return value;
  }

  /// The next `count` bytes, checked against what is left.
  std::span<const std::byte> take(std::size_t count) {
    if (count > remaining()) [[unlikely]] throw_truncated(count);
    auto part = bytes_.subspan(offset_, count);
    offset_ += count;
    return part;
  }

  /// A length-prefixed blob, as written by put_blob().
  std::span<const std::byte> get_blob() { return take(get<std::uint64_t>()); }

  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - offset_; }
  [[nodiscard]] bool at_end() const { return remaining() == 0; }

 private:
  // Out of line, so that take() stays small enough to inline: a results message is read
  // five fields an item, and an outlined take() cost ~30 instructions each.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_truncated(std::size_t count) const {
    throw serialization_error("malformed message: a field needs " + std::to_string(count) + " bytes at offset " +
                              std::to_string(offset_) + " but only " + std::to_string(remaining()) +
                              " remain (truncated message or corrupt length)");
  }

  std::span<const std::byte> bytes_;
  std::size_t offset_ = 0;
};

}  // namespace mpipool::detail
