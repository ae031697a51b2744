#pragma once
// Frames between a worker rank and its task process, over a pair of pipes:
// [u8 kind][u64 length][body]. Bodies are bytes the rank already has from MPI,
// forwarded without decoding.

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>

#include "mpipool/detail/byte_buffer.hpp"

namespace mpipool::detail {

enum class frame_kind : std::uint8_t {
  // rank -> task process
  chunk = 1,          // [u64 chunk][u32 task][u32 first item][u32 count][i64 timeout ms][items]
  proxy_opened = 10,  // [u32 proxy][u8 ok][u32 workers | error record]
  proxy_result = 11,  // [u32 proxy][u64 job][u64 index][u8 status][payload]
  // task process -> rank
  item_result = 2,   // [u64 chunk][u32 item][u8 status][payload]
  init_done = 3,     // [u8 ok][error record]
  proxy_open = 20,   // [u32 proxy][u32 workers][options]
  proxy_submit = 21, // [u32 proxy][u64 job][u32 task][i32 retries][i64 timeout ms][u64 first index][u32 count][items]
  proxy_close = 22,  // [u32 proxy][u8 terminate]
};

inline constexpr std::size_t frame_header_bytes = 1 + sizeof(std::uint64_t);

struct frame {
  frame_kind kind{};
  byte_buffer body;
};

/// Starts a frame in `out`; returns the offset to pass to end_frame once the body is written.
std::size_t begin_frame(byte_buffer& out, frame_kind kind);
void end_frame(byte_buffer& out, std::size_t start);

/// Collects bytes read from a non-blocking fd and cuts them into frames.
class frame_reader {
 public:
  /// Reads what is available; false once the other end has closed.
  bool fill(int fd);
  /// Reads until one whole frame is buffered or the fd closes (blocking fds).
  bool fill_blocking(int fd);
  std::optional<frame> next();

 private:
  byte_buffer buffer_;
  std::size_t consumed_ = 0;
};

/// Bytes queued for a non-blocking fd. Several threads may queue; one flush at a time.
class frame_writer {
 public:
  void queue(byte_buffer frames);
  /// Writes what the pipe takes now; false if the reader is gone.
  bool flush(int fd);
  [[nodiscard]] bool pending() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::deque<byte_buffer> queue_;
  std::size_t offset_ = 0;  // already written of queue_.front()
};

/// Writes all of `bytes` to a blocking fd; false if the reader is gone.
bool write_all(int fd, std::span<const std::byte> bytes);

}  // namespace mpipool::detail
