#pragma once
// The items of a chunk, in either layout (wire::chunk_header::item_size): framed,
// [u64 length][bytes] each, or packed, a fixed number of bytes each. Finding item
// i is a walk over the lengths in the first, an index in the second.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/errors.hpp"

namespace mpipool::detail {

class chunk_items {
 public:
  chunk_items(std::span<const std::byte> bytes, std::uint32_t item_size) : bytes_(bytes), item_size_(item_size) {}

  [[nodiscard]] bool packed() const { return item_size_ != 0; }
  [[nodiscard]] std::uint32_t item_size() const { return item_size_; }

  /// The bytes of items [begin, end), in this layout; throws serialization_error if they are not all there.
  [[nodiscard]] std::span<const std::byte> slice(std::uint32_t begin, std::uint32_t end) const {
    if (packed()) {
      const std::size_t from = std::size_t{begin} * item_size_;
      const std::size_t to = std::size_t{end} * item_size_;
      if (to > bytes_.size()) {
        throw serialization_error("a packed chunk of " + std::to_string(bytes_.size()) + " bytes has no item " +
                                  std::to_string(end - 1) + " of " + std::to_string(item_size_) + " bytes");
      }
      return bytes_.subspan(from, to - from);
    }
    byte_reader reader(bytes_);
    for (std::uint32_t i = 0; i < begin; ++i) reader.get_blob();
    const std::size_t from = bytes_.size() - reader.remaining();
    for (std::uint32_t i = begin; i < end; ++i) reader.get_blob();
    return bytes_.subspan(from, bytes_.size() - reader.remaining() - from);
  }

  /// One item's argument bytes, without framing.
  [[nodiscard]] std::span<const std::byte> item(std::uint32_t index) const {
    const auto bytes = slice(index, index + 1);
    return packed() ? bytes : byte_reader(bytes).get_blob();
  }

 private:
  std::span<const std::byte> bytes_;
  std::uint32_t item_size_;
};

/// Reads the items of a chunk one after the other.
class item_cursor {
 public:
  item_cursor(std::span<const std::byte> bytes, std::uint32_t item_size)
      : items_(bytes, item_size), reader_(bytes) {}

  /// The next item's argument bytes; throws serialization_error past the end.
  std::span<const std::byte> next() {
    if (items_.packed()) return items_.item(index_++);
    ++index_;
    return reader_.get_blob();
  }

 private:
  chunk_items items_;
  byte_reader reader_;
  std::uint32_t index_ = 0;
};

}  // namespace mpipool::detail
