#pragma once
// Large results that leave without being copied into their message. A task that
// returns a big vector of numbers hands the vector itself over: its message
// records where the vector's bytes belong, and the link sends the vector's own
// memory there, as a part of the message (link.cpp). The receiver sees the same
// bytes as if they had been copied in.
//
// Only a direct-mode worker collects them, because its results go straight to MPI;
// anywhere else (a task process writing into its ring) no collector is active and
// results are copied as usual. The master does the same with a large vector of
// numbers passed to apply as an rvalue (job.hpp, append_call).

#include <cstddef>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "mpipool/detail/byte_buffer.hpp"

namespace mpipool::detail {

/// `bytes` belong before byte `offset` of a message body that does not hold them;
/// `keeper` keeps them alive until they are sent.
struct borrowed_span {
  std::size_t offset = 0;
  std::span<const std::byte> bytes;
  std::shared_ptr<const void> keeper;
};

class borrowed_bytes {
 public:
  /// Below this a copy costs less than the extra MPI message.
  static constexpr std::size_t threshold = std::size_t{1} << 20;

  /// The collector the calling thread writes results for, or null (see borrowed_bytes_scope).
  static borrowed_bytes* current() { return current_; }

  /// Keeps `values` to be sent as if written at the end of `out` now.
  template <class Vector>
  void adopt(const byte_buffer& out, Vector&& values) {
    auto kept = std::make_shared<const std::remove_cvref_t<Vector>>(std::forward<Vector>(values));
    const auto bytes = std::as_bytes(std::span(*kept));
    spans_.push_back({out.size(), bytes, std::move(kept)});
  }

  /// Borrowed bytes placed at `offset` of the body or later.
  [[nodiscard]] std::size_t bytes_from(std::size_t offset) const {
    std::size_t sum = 0;
    for (auto it = spans_.rbegin(); it != spans_.rend() && it->offset >= offset; ++it) sum += it->bytes.size();
    return sum;
  }

  /// Forgets spans from `offset` on: the message was cut back there (a result that failed late).
  void drop_from(std::size_t offset) {
    while (!spans_.empty() && spans_.back().offset >= offset) spans_.pop_back();
  }

  std::vector<borrowed_span> take() { return std::exchange(spans_, {}); }

 private:
  friend class borrowed_bytes_scope;
  static inline thread_local borrowed_bytes* current_ = nullptr;
  std::vector<borrowed_span> spans_;  // in offset order
};

/// Total bytes of `spans`.
inline std::size_t borrowed_size(const std::vector<borrowed_span>& spans) {
  std::size_t total = 0;
  for (const auto& span : spans) total += span.bytes.size();
  return total;
}

/// A new buffer with `body`'s bytes and those of `spans` where they belong: for a
/// path that needs the whole message in one buffer (a retry, a shared message).
/// `body` itself is left alone: MPI may still be sending from it.
inline byte_buffer with_borrowed(const byte_buffer& body, const std::vector<borrowed_span>& spans) {
  byte_buffer whole;
  whole.reserve(body.size() + borrowed_size(spans));
  std::size_t cursor = 0;
  for (const auto& span : spans) {  // in offset order
    whole.append(body.data() + cursor, span.offset - cursor);
    whole.append(span.bytes.data(), span.bytes.size());
    cursor = span.offset;
  }
  whole.append(body.data() + cursor, body.size() - cursor);
  return whole;
}

/// Makes `collector` the calling thread's collector while it lives.
class borrowed_bytes_scope {
 public:
  explicit borrowed_bytes_scope(borrowed_bytes& collector) : previous_(borrowed_bytes::current_) {
    borrowed_bytes::current_ = &collector;
  }
  ~borrowed_bytes_scope() { borrowed_bytes::current_ = previous_; }
  borrowed_bytes_scope(const borrowed_bytes_scope&) = delete;
  borrowed_bytes_scope& operator=(const borrowed_bytes_scope&) = delete;

 private:
  borrowed_bytes* previous_;
};

}  // namespace mpipool::detail
