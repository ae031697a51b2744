#pragma once
// The lane: two shared-memory rings between a pool's master and a supervised
// worker's task process on the same node, so that a chunk and its results skip the
// worker rank. On a rank bound to one core the task process shares that core, and
// relaying through the rank cost two context switches a round trip (2.2 us each on
// the 2-core VM); through the lane the rank sleeps.
//
// The rank stays the task process's supervisor: it creates the lane before the fork
// and offers it to the master (tag_lane). The task process copies each chunk it
// takes from the lane to the rank (frame_kind::lane_chunk) before it lets go of it,
// and tells the rank which results it wrote to the lane (lane_done). When the task
// process dies, the rank refuses the master's further writes, takes the chunks still
// in the lane, and handles them as its own: the one that was running fails, the
// others run again in the next task process and answer through the rank. The master
// writes a chunk to the lane only whole and only if the lane takes it; otherwise it
// sends it over MPI as before.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "frames.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "shm_ring.hpp"

namespace mpipool::detail {

/// Small: the master touches these pages when it first uses a lane, and a warm pool
/// start must stay under a millisecond (a first touch costs 12 us a page on the VM).
inline constexpr std::size_t lane_ring_bytes = std::size_t{64} << 10;
/// Larger chunks go over MPI, where copying them costs more than the hop through the rank.
inline constexpr std::size_t lane_max_frame_bytes = std::size_t{16} << 10;

/// False with MPIPOOL_LANE=0: every chunk goes through the rank (for comparison, or
/// where /proc/PID/fd of another process cannot be opened).
bool lanes_enabled();

/// What a rank tells the master so that it can map the lane.
struct lane_offer {
  std::int64_t pid = 0;  // the rank, whose descriptors name the rings
  std::int32_t to_task_fd = -1;
  std::int32_t from_task_fd = -1;
  std::uint64_t to_task_token = 0;
  std::uint64_t from_task_token = 0;
};
byte_buffer encode(const lane_offer& offer);
lane_offer decode_lane_offer(byte_reader& in);

/// The rank's side: it creates both rings; the task process forked after shares them.
struct task_lane {
  std::unique_ptr<shm_ring> to_task;    // chunks from the master
  std::unique_ptr<shm_ring> from_task;  // their results

  static task_lane create();
  [[nodiscard]] lane_offer offer() const;
};

/// The master's side of one worker's lane.
class master_lane {
 public:
  /// Maps the rings named in `offer`; throws if they are not there.
  explicit master_lane(const lane_offer& offer);

  /// Writes one chunk frame if the lane takes it whole and is still open.
  bool send(std::span<const std::byte> frame) { return to_task_->write_whole_unless_refused(frame); }
  /// Passes the body of each result frame (item_result) that arrived to `handle`;
  /// false if nothing was there to read. A body is valid during its call only.
  template <class Handle>
  bool take_results(Handle&& handle) {
    if (from_task_->readable() == 0) return false;
    reader_.fill(*from_task_);
    while (auto result = reader_.next()) {
      if (result->kind == frame_kind::item_result) handle(result->body);
    }
    return true;
  }

 private:
  std::unique_ptr<shm_ring> to_task_;
  std::unique_ptr<shm_ring> from_task_;
  frame_reader reader_;
};

}  // namespace mpipool::detail
