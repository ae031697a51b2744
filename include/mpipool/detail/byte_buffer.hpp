#pragma once
// A growable byte buffer that, unlike std::vector, does not zero memory it is
// about to overwrite: receive buffers for large messages are filled by MPI.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

namespace mpipool::detail {

/// Large blocks (64 KiB and up) are recycled instead of returned to the system: a
/// fresh block must be paged in on first touch, which costs more than copying it.
struct large_blocks {
  static constexpr std::size_t threshold = std::size_t{64} << 10;
  /// A block of at least `size` bytes; sets `size` to what it holds.
  static std::byte* take(std::size_t& size);
  static void give_back(std::byte* block, std::size_t size);
  /// A supervised worker rank: new blocks come from the memory it shares with its
  /// task processes (shared_arena), so that they read large chunks in place.
  static void use_shared_arena();
  /// In a task process after its fork: blocks in the rank's arena are the rank's;
  /// with `serve_own`, its own come from the task process's arena, where the rank
  /// reads its results.
  static void leave_shared_arena(bool serve_own);
};

struct block_deleter {
  std::size_t size = 0;
  void operator()(std::byte* block) const {
    if (size >= large_blocks::threshold) {
      large_blocks::give_back(block, size);
    } else {
      delete[] block;
    }
  }
};

class byte_buffer {
 public:
  byte_buffer() = default;
  explicit byte_buffer(std::size_t size) { resize(size); }

  /// `size` uninitialised bytes, placed so that byte `aligned_offset` starts a cache
  /// line: a receiver lays a large array where copying it out runs at full speed
  /// (a 64 MiB echo's master decoded its result in 9 ms unaligned, 6.5 ms aligned).
  static byte_buffer with_aligned_byte(std::size_t size, std::size_t aligned_offset) {
    byte_buffer buffer;
    buffer.reserve(size + alignment - 1);
    const auto at = reinterpret_cast<std::uintptr_t>(buffer.data() + aligned_offset);
    buffer.skew_ = (alignment - at % alignment) % alignment;
    buffer.capacity_ -= buffer.skew_;
    buffer.size_ = size;
    return buffer;
  }
  byte_buffer(byte_buffer&& other) noexcept
      : data_(std::move(other.data_)),
        skew_(std::exchange(other.skew_, 0)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  byte_buffer& operator=(byte_buffer&& other) noexcept {
    data_ = std::move(other.data_);
    skew_ = std::exchange(other.skew_, 0);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }
  byte_buffer(const byte_buffer& other) { append(other.data(), other.size()); }
  byte_buffer& operator=(const byte_buffer& other) {
    if (this != &other) {
      clear();
      append(other.data(), other.size());
    }
    return *this;
  }

  [[nodiscard]] std::byte* data() { return data_.get() + skew_; }
  [[nodiscard]] const std::byte* data() const { return data_.get() + skew_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::span<const std::byte> view() const { return {data(), size_}; }

  void clear() { size_ = 0; }

  void reserve(std::size_t wanted) {
    if (wanted > capacity_) [[unlikely]] grow(wanted);
  }

  /// New bytes are left uninitialised; the caller overwrites them.
  void resize(std::size_t size) {
    reserve(size);
    size_ = size;
  }

  void append(const void* bytes, std::size_t count) {
    reserve(size_ + count);
    if (count != 0) std::memcpy(data() + size_, bytes, count);
    size_ += count;
  }

  /// Appends a trivially copyable value in native byte order (the cluster is homogeneous).
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&value, sizeof(T));
  }

  /// Writes a value at an offset that was reserved earlier, e.g. a length patched in later.
  template <class T>
  void put_at(std::size_t offset, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::memcpy(data() + offset, &value, sizeof(T));
  }

 private:
  // Out of line, so that put() and append() inline down to a compare and a copy: a
  // message is written a few bytes at a time, and reserve() was a call each time.
  [[gnu::noinline]] void grow(std::size_t wanted) {
    std::size_t grown = capacity_ < 64 ? 64 : capacity_ * 2;
    if (grown < wanted) grown = wanted;
    std::unique_ptr<std::byte[], block_deleter> fresh;
    if (grown >= large_blocks::threshold) {
      std::byte* block = large_blocks::take(grown);
      fresh = {block, block_deleter{grown}};
    } else {
      fresh = {new std::byte[grown], block_deleter{grown}};
    }
    if (size_ != 0) std::memcpy(fresh.get(), data(), size_);
    data_ = std::move(fresh);
    capacity_ = grown;
    skew_ = 0;
  }

  static constexpr std::size_t alignment = 64;
  std::unique_ptr<std::byte[], block_deleter> data_;
  std::size_t skew_ = 0;      // bytes of the block before data()
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;  // from data() on
};

}  // namespace mpipool::detail
