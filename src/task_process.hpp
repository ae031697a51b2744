#pragma once
// The task process: a child that a supervised worker rank forks, and that runs
// the user's tasks. It never calls MPI. If it crashes, only the task it was
// running fails; the rank reports it and forks a new one.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/errors.hpp"
#include "frames.hpp"
#include "lane.hpp"
#include "progress_board.hpp"
#include "wire.hpp"

namespace mpipool::detail {

class proxy_executor;

/// True in a task process (it must not call MPI; its pools go through its rank).
bool in_task_process();

/// The rank's view of one task process.
struct task_process_handle {
  pid_t pid = -1;
  std::unique_ptr<shm_ring> to_child;    // chunks and proxy answers
  std::unique_ptr<shm_ring> from_child;  // results and proxy requests
  int alive = -1;  // a pipe only the task process writes to: end-of-file when it dies
  progress_board* board = nullptr;
  task_lane lane;  // to and from the master; empty without one
};

/// Forks a task process. It runs the session's initializer, reports it
/// (frame_kind::init_done), then runs the chunks it is sent until its input closes:
/// from the rank, and with `with_lane` from the master too.
task_process_handle fork_task_process(const wire::session_init& init, const origin& identity, bool with_lane);

/// The task process's own side of the pipes; also what proxy pools use to reach the rank.
class task_process {
 public:
  static task_process& current();

  /// Sends frames to the rank (blocking).
  void send(const byte_buffer& frames);
  /// Waits up to `timeout` for frames from the rank and handles them: chunks are
  /// queued for the main loop, proxy frames go to their pool.
  void pump(std::chrono::microseconds timeout);
  std::uint32_t add_proxy(proxy_executor* proxy);
  void remove_proxy(std::uint32_t id);

  [[noreturn]] void run();

  /// How a task process waits for input: it spins for `spin`, in `style`, before it sleeps.
  struct input_wait {
    std::chrono::microseconds spin;
    spin_style style;
  };

  /// How to wait for input after running `chunks_run` chunks since the last wait, with
  /// `idle_spin` the spin for where this task process runs (idle_spin() in the .cpp).
  /// On a node without a core for each process (`idle_spin` zero), a stream of chunks
  /// (4 or more) earns 20 us: the next batch is usually close behind, and sleeping at
  /// once cost a wake-up, two context switches, every few tasks (W1 at chunksize 1, 2
  /// workers on 2 cores: 0.8M items/s, 1.4M with the spin). A task process that shares
  /// its rank's only core spins by yielding that core (shared_core_spin): the rank is
  /// usually runnable there, relaying the answer and bringing the next task, and a yield
  /// hands it the core for one switch (2.2 us on the 2-core VM), where sleeping adds a
  /// futex wake-up. Pausing there instead would hold the core the rank needs.
  static input_wait wait_before_sleep(int chunks_run, bool shares_rank_core, std::chrono::microseconds idle_spin);

 private:
  friend task_process_handle fork_task_process(const wire::session_init&, const origin&, bool);
  task_process(shm_ring& from_rank, shm_ring& to_rank, const task_lane& lane, progress_board* board,
               const wire::session_init& init, origin identity);

  /// Packed runs written into the results frames themselves (packed_sink).
  class frame_sink;

  void dispatch(frame incoming);
  /// Takes the chunks the master wrote to the lane, each copied to the rank first.
  void take_lane_chunks();
  void run_chunk(const frame& chunk);
  /// The items of a chunk_shared frame, read where the rank received them.
  static std::span<const std::byte> shared_items(byte_reader& in);
  /// Starts a result frame: [u64 chunk][u32 item], status and payload to follow;
  /// returns the offset end_frame() needs.
  std::size_t begin_result(std::uint64_t chunk_id, std::uint32_t item);
  /// Ends the result frame begun at `start` in out_; `last_item` is the last item it answers.
  void end_result(std::size_t start, std::uint64_t chunk_id, std::uint32_t last_item);
  /// Sends the queued results if they are old or big enough.
  void flush_if_due();
  void flush_results();
  /// Results to the lane, then which ones they were to the rank: a crash between the
  /// two only runs those items again, and the master keeps the first result of each.
  void flush_lane_results();
  /// Tells the rank that everything before is sent (frame_kind::flushed).
  void answer_flush();
  [[noreturn]] void leave(int status);

  shm_ring& from_rank_;
  shm_ring& to_rank_;
  progress_board* board_;
  wire::session_init init_;
  origin identity_;
  byte_buffer init_failure_;  // the initializer's error record, if it failed
  frame_reader reader_;
  shm_ring* lane_in_ = nullptr;   // chunks from the master, or none
  shm_ring* lane_out_ = nullptr;  // their results
  byte_buffer lane_taken_;        // what take_lane_chunks peeked
  byte_buffer lane_notes_;        // lane_chunk and lane_done frames on their way to the rank, kept for its buffer
  byte_buffer results_;
  byte_buffer lane_results_;
  byte_buffer* out_ = &results_;  // where the chunk running now answers
  bool last_chunk_from_lane_ = false;
  bool flush_asked_ = false;  // the rank wants to know when all is sent (session end)
  std::vector<std::pair<std::uint64_t, std::uint32_t>> lane_done_;  // in lane_results_: chunk, last item
  std::map<std::uint64_t, byte_buffer> lent_;  // results the rank reads in place, by offset, until released
  std::chrono::steady_clock::time_point results_since_{};
  bool shares_rank_core_;                 // bound to the one core the rank is bound to
  std::chrono::microseconds idle_spin_;  // before sleeping on an empty input ring
  int chunks_since_wait_ = 0;             // a stream of chunks earns a spin (stream_spin)
  std::deque<frame> chunks_;
  std::map<std::uint32_t, proxy_executor*> proxies_;
  std::uint32_t next_proxy_ = 1;
};

}  // namespace mpipool::detail
