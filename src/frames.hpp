#pragma once
// Frames between a worker rank and its task process, over two shared-memory
// rings: [u8 kind][u64 length][body]. Bodies are bytes the rank already has from
// MPI, forwarded without decoding.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>

#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "shm_ring.hpp"
#include "wire.hpp"

namespace mpipool::detail {

enum class frame_kind : std::uint8_t {
  // rank -> task process
  chunk = 1,          // [u64 chunk][u32 task][u32 first item][u32 count][i64 timeout ms][u32 item size][items]
  chunk_shared = 4,   // as chunk, but [u64 offset][u64 bytes] of the items in the rank's arena instead of them
  results_release = 12,  // [u64 offset]: the rank is done with these results_shared
  proxy_opened = 10,  // [u32 proxy][u8 ok][u32 workers | error record]
  proxy_result = 11,  // [u32 proxy][u64 job][u64 index][u8 status][payload]
  flush_request = 13,  // (empty) send every result and note now, then answer flushed
  // task process -> rank
  item_result = 2,   // [u64 chunk][u32 item][u8 status][payload]
  results_shared = 5,  // [u64 offset][u64 bytes]: item_result frames in the task process's arena
  init_done = 3,     // [u8 ok][error record]
  proxy_open = 20,   // [u32 proxy][u32 workers][options]
  proxy_submit = 21, // [u32 proxy][u64 job][u32 task][i32 retries][i64 timeout ms][u64 first index][u32 count]
                     // [u32 item size][items]
  proxy_close = 22,  // [u32 proxy][u8 terminate]
  // task process -> rank, about chunks that came through the lane from the master
  // (lane.hpp). These two are written without waking the rank, which reads them when it wakes.
  lane_chunk = 30,   // a copy of a chunk frame taken from the lane, before it left the lane
  lane_done = 31,    // [u32 n][n x ([u64 chunk][u32 last item])]: their results are in the lane
  flushed = 32,      // (empty) the answer to flush_request, once idle: everything before it is sent
};

inline constexpr std::size_t frame_header_bytes = 1 + sizeof(std::uint64_t);

/// A frame as the reader cut it: its body lies in the reader's buffer, valid until
/// the reader's next fill(). Handled at once, a frame costs no allocation.
struct frame_view {
  frame_kind kind{};
  std::span<const std::byte> body;
};

/// A frame kept beyond that (a task process queues the chunks it is sent).
struct frame {
  frame_kind kind{};
  byte_buffer body;

  static frame copy_of(const frame_view& view) {
    frame kept{view.kind, byte_buffer()};
    kept.body.append(view.body.data(), view.body.size());
    return kept;
  }
};

/// What the body of a chunk frame starts with: `header.count` items of the chunk, from
/// item `first` on. Its items, or where they lie (chunk_shared), follow.
struct chunk_frame_head {
  wire::chunk_header header;
  std::uint32_t first = 0;
};
void put_chunk_head(byte_buffer& out, const chunk_frame_head& head);
chunk_frame_head get_chunk_head(byte_reader& in);

/// The body of an item_result frame, read.
struct item_result_view {
  std::uint64_t chunk = 0;
  std::uint32_t item = 0;
  wire::item_status status{};
  std::span<const std::byte> payload;
};
item_result_view read_item_result(std::span<const std::byte> body);

/// A frame without a body (flush_request, flushed).
byte_buffer empty_frame(frame_kind kind);

/// Starts a frame in `out`; returns the offset to pass to end_frame once the body is written.
std::size_t begin_frame(byte_buffer& out, frame_kind kind);
void end_frame(byte_buffer& out, std::size_t start);

/// Cuts the first whole frame off `bytes`; nothing if they do not hold one.
std::optional<frame_view> cut_frame(std::span<const std::byte>& bytes);

/// Collects bytes from a ring and cuts them into frames.
class frame_reader {
 public:
  /// Takes what the ring holds now; false once the writer closed and all is read.
  /// Frames cut before are invalid afterwards.
  bool fill(shm_ring& ring);
  std::optional<frame_view> next();

 private:
  byte_buffer buffer_;
  std::size_t consumed_ = 0;
};

/// Frames queued for a ring. Several threads may queue; one flush at a time.
class frame_writer {
 public:
  void queue(byte_buffer frames);
  /// Writes what the ring takes now.
  void flush(shm_ring& ring);
  /// Writes `frames` behind what is queued: straight into the ring while nothing
  /// waits and it has room, so a stream of chunks needs no buffer of its own each.
  /// Leaves `frames` empty; what the ring could not take is queued.
  void write(shm_ring& ring, byte_buffer& frames);
  [[nodiscard]] bool pending() const;
  void clear();

 private:
  void flush_locked(shm_ring& ring);

  mutable std::mutex mutex_;
  std::deque<byte_buffer> queue_;
  std::size_t offset_ = 0;  // already written of queue_.front()
};

/// Writes all of `bytes`, waiting for room as needed (the task process's side);
/// without `wake`, a sleeping reader is left asleep.
void write_all(shm_ring& ring, std::span<const std::byte> bytes, bool wake = true);

}  // namespace mpipool::detail
