#pragma once
// The master side of a pool: an engine that owns the link to the workers, hands
// out chunks (several in flight per worker, idle workers first), collects
// results, and settles every item exactly once. It neither knows nor cares
// whether its workers were started by mpirun or spawned.
//
// Whoever holds drive_mutex_ runs the engine: a thread waiting for a result
// (drive_until), a thread that just submitted work, or, when nobody waits, the
// pool's progress thread, which keeps callbacks and pipelines going while the
// master's own code is busy.

#include <atomic>
#include <chrono>
#include <functional>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crew.hpp"
#include "item_buffers.hpp"
#include "ledger.hpp"
#include "lane.hpp"
#include "link.hpp"
#include "mpipool/detail/job.hpp"
#include "mpipool/errors.hpp"
#include "mpipool/options.hpp"
#include "wire.hpp"

namespace mpipool::detail {

/// One flag per item of a chunk; chunks of up to 64 items (the common case) need no allocation.
class item_flags {
 public:
  void reset(std::uint32_t count) {
    small_ = 0;
    large_.clear();
    if (count > 64) large_.assign((count + 63) / 64, 0);
  }
  [[nodiscard]] bool test(std::uint32_t i) const { return (word(i) >> (i % 64) & 1U) != 0; }
  void set(std::uint32_t i) { word(i) |= std::uint64_t{1} << (i % 64); }
  /// Sets items [first, first + count).
  void set_range(std::uint32_t first, std::uint32_t count) {
    for_words(first, count, [](std::uint64_t& word, std::uint64_t mask) {
      word |= mask;
      return true;
    });
  }
  /// True if none of items [first, first + count) is set.
  [[nodiscard]] bool none_in(std::uint32_t first, std::uint32_t count) {
    return for_words(first, count, [](std::uint64_t& word, std::uint64_t mask) { return (word & mask) == 0; });
  }

 private:
  [[nodiscard]] std::uint64_t word(std::uint32_t i) const { return large_.empty() ? small_ : large_[i / 64]; }
  std::uint64_t& word(std::uint32_t i) { return large_.empty() ? small_ : large_[i / 64]; }
  /// Calls `visit(word, mask)` for each word the range touches, while it returns true.
  template <class Visit>
  bool for_words(std::uint32_t first, std::uint32_t count, Visit visit) {
    const std::uint64_t end = std::uint64_t{first} + count;
    for (std::uint64_t at = first; at < end;) {
      const std::uint64_t bit = at % 64;
      const std::uint64_t span = std::min<std::uint64_t>(64 - bit, end - at);
      const std::uint64_t mask = (span == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << span) - 1)) << bit;
      if (!visit(word(static_cast<std::uint32_t>(at)), mask)) return false;
      at += span;
    }
    return true;
  }

  std::uint64_t small_ = 0;
  std::vector<std::uint64_t> large_;  // one bit per item, for chunks of more than 64
};

class manager final : public executor {
 public:
  /// Starts a session on the workers behind `workers` (INIT, then READY from each)
  /// and the progress thread. `owner` is told when the session ends, after the
  /// workers were released (a dynamic pool then parks or stops its crew).
  manager(link& workers, std::shared_ptr<session_owner> owner, const pool_options& options, int worker_depth);
  ~manager() override;

  void submit(std::shared_ptr<job> work) override;
  bool drive_until(const std::function<bool()>& done, clock::time_point deadline) override;
  [[nodiscard]] std::size_t workers() const override { return worker_count_; }
  void wake() override;
  void close() override;
  void join() override;
  void terminate() override;

  /// Receives what has arrived and runs its callbacks, for up to half a second (SIGTERM).
  void drain_for_exit();

  /// Workers' identities, as they reported them at the start of the session.
  [[nodiscard]] const std::vector<origin>& worker_identities() const { return identities_; }

 private:
  struct job_record {
    std::shared_ptr<job> work;
    std::uint64_t issued = 0;
    std::uint64_t settled = 0;
    bool feeding = true;  // may still hand out chunks
  };
  using job_iterator = std::list<job_record>::iterator;

  struct chunk_record {
    job_iterator owner;
    std::uint64_t first_index = 0;
    std::uint32_t count = 0;
    std::uint32_t item_size = 0;  // as in encoded_chunk
    std::uint32_t unsettled = 0;
    std::shared_ptr<byte_buffer> items;  // header room, then the items; kept to resend a lost item
    std::vector<borrowed_span> adopted;  // bytes of `items` that stay in the caller's vectors
    /// The items, with adopted bytes copied in first: into a new buffer, since the
    /// link may still be sending from this one.
    [[nodiscard]] std::span<const std::byte> item_view() {
      if (!adopted.empty()) {
        items = std::make_shared<byte_buffer>(with_borrowed(*items, adopted));
        adopted.clear();
      }
      return items->view().subspan(encoded_chunk::header_room);
    }
    item_flags settled;
    int worker = -1;
    std::uint64_t message = 0;  // the tasks message that carried it
    int attempt = 0;
    int avoid_worker = -1;  // a retried item prefers another worker
  };

  struct worker_record {
    std::size_t in_flight = 0;
    std::size_t window = 2;
    bool alive = true;
    clock::time_point last_completion{};
    double mean_gap_us = 0;            // between chunk completions, smoothed
    std::size_t finished_unmeasured = 0;  // chunks finished since adapt_window last looked
    std::unique_ptr<master_lane> lane;    // to its task process, on this node (lane.hpp)
  };

  void handshake(const pool_options& options, int worker_depth);
  void release_workers(bool kill_running);
  /// The progress thread: drives the engine whenever no other thread does.
  void run();
  /// One round of the engine; drive_mutex_ must be held. Never throws: a failure
  /// breaks the pool and fails its jobs.
  bool progress_once();
  /// Runs progress_once() if no other thread is driving; true if it did work.
  bool try_progress();
  bool take_submissions();
  bool dispatch();
  bool assign_chunk(int worker, byte_buffer& message);
  /// Writes a small chunk into the worker's lane, which it has; false if it is full or shut.
  bool send_by_lane(int worker, const wire::chunk_header& header, chunk_record& chunk);
  /// A worker offers a lane to its new task process: the old one's last results first.
  void on_lane_offer(std::size_t worker, const byte_buffer& body);
  void drop_lane(std::size_t worker);
  /// Settles the results that came through a worker's lane.
  bool take_lane_results(std::size_t worker);
  void take_result(std::uint64_t chunk_id, std::uint32_t item, wire::item_status status,
                   std::span<const std::byte> payload);
  /// A worker sent results we cannot read: what it still owes fails.
  void fail_unreadable_results(int worker, const serialization_error& error);
  bool next_chunk_for(int worker, std::uint64_t& chunk_id);
  /// Alive, with room in its window, and not refused by the retries left in this dispatch.
  [[nodiscard]] bool open_to_work(std::size_t worker) const;
  bool receive();
  void on_results(int worker, const byte_buffer& body);
  /// A worker could not read a tasks message: fail the chunks it did not accept.
  void on_rejected(int worker, const byte_buffer& body);
  /// Workers that owe results and have been silent past the peer timeout are lost.
  bool find_lost_workers();
  void lose_worker(std::size_t w, std::chrono::milliseconds silent);
  /// Fails every unsettled item of a chunk with `failure`.
  void fail_chunk(std::uint64_t chunk_id, chunk_record& chunk, const std::exception_ptr& failure);
  /// Slot requests and returns from workers whose tasks open sub-pools; true if `incoming` was one.
  bool serve_slots(message& incoming);
  void settle(std::uint64_t chunk_id, chunk_record& chunk, std::uint32_t item, wire::item_status status,
              std::span<const std::byte> payload);
  /// Settles a run of packed results from item `first` (wire::item_status::ok_run).
  void settle_run(std::uint64_t chunk_id, chunk_record& chunk, std::uint32_t first,
                  std::span<const std::byte> payload);
  void retry_item(chunk_record& chunk, std::uint32_t item);
  void chunk_finished(std::uint64_t chunk_id, chunk_record& chunk);
  /// Records a chunk in a map node that a finished chunk left, so a chunk costs no allocation there.
  void add_chunk(std::uint64_t chunk_id, chunk_record chunk);
  void job_progressed(job_iterator record);
  void abandon_all(const std::exception_ptr& error);
  void adapt_window(worker_record& worker);
  /// The longest nap a waiting thread may take now. While work is out, 1/32 of the
  /// expected time to the next completion: a master that naps through a completion
  /// leaves that worker without its next task when the one it queued is short
  /// (measured on a run of 2 ms tasks: 1 ms naps lost 12% to starved workers, 60 us
  /// naps 4%; spinning instead did worse on 2 cores). Waiting on long tasks still
  /// costs no CPU; nothing out: the full 1 ms.
  [[nodiscard]] std::chrono::microseconds nap_cap() const;
  [[nodiscard]] bool idle() const;

  link& link_;
  std::shared_ptr<session_owner> owner_;
  bool released_cleanly_ = false;
  const std::size_t worker_count_;
  const std::size_t fixed_window_;
  std::vector<origin> identities_;

  // Owned by whoever holds drive_mutex_.
  std::mutex drive_mutex_;
  std::list<job_record> jobs_;
  std::list<job_iterator> feeding_;   // jobs that may still hand out chunks, oldest first
  std::list<job_record> spare_jobs_;  // nodes of finished jobs, for the next ones
  std::list<job_iterator> spare_feeding_;
  std::vector<byte_buffer> staged_;   // tasks messages being built, one per worker
  byte_buffer lane_frame_;            // a chunk frame on its way into a lane
  std::size_t lanes_open_ = 0;        // workers with a lane: none, and receive() skips looking
  std::vector<bool> refused_;         // workers the retries left avoid, in this dispatch
  std::unordered_map<std::uint64_t, chunk_record> chunks_;
  std::vector<std::unordered_map<std::uint64_t, chunk_record>::node_type> spare_chunk_nodes_;
  static constexpr std::size_t max_spare_chunk_nodes = 1024;
  item_buffers spare_items_;
  std::deque<std::uint64_t> retries_;
  std::vector<worker_record> worker_states_;
  double completions_per_us_ = 0;  // sum over workers of 1 / mean_gap_us
  std::vector<std::vector<slot_grant>> grants_;  // slots held by each worker's sub-pools
  std::uint64_t next_chunk_id_ = 1;
  std::uint64_t next_message_id_ = 1;
  std::chrono::milliseconds peer_timeout_{20000};
  clock::time_point next_liveness_check_{};
  std::uint32_t rounds_ = 0;
  std::size_t next_worker_ = 0;
  bool job_finished_ = false;  // in this round of receive()
  std::atomic<bool> engine_idle_{true};
  std::atomic<std::int64_t> busy_nap_cap_us_{max_nap_us};  // nap_cap() while work is out

  static constexpr std::int64_t max_nap_us = 1000;
  // How long the progress thread rests while another thread drives: it grows from the
  // first to the second while that thread keeps waiting.
  static constexpr std::chrono::milliseconds min_rest_while_waited{1};
  static constexpr std::chrono::milliseconds max_rest_while_waited{4};
  // Threads driving in drive_until now (low 32 bits) and waits begun so far (high bits,
  // wrapping), in one word so that a wait costs one atomic add (see run()).
  std::atomic<std::uint64_t> waits_{0};
  static constexpr std::uint64_t one_waiter = 1;
  static constexpr std::uint64_t one_wait_begun = std::uint64_t{1} << 32;
  [[nodiscard]] static std::uint64_t waiting(std::uint64_t waits) { return waits & (one_wait_begun - 1); }
  [[nodiscard]] static std::uint64_t begun(std::uint64_t waits) { return waits >> 32; }
  std::atomic<bool> resting_long_{false};  // it rests past min_rest_while_waited

  // Shared with user threads, under mutex_.
  std::mutex mutex_;
  std::condition_variable work_cv_;  // wakes the progress thread
  std::condition_variable done_cv_;  // wakes join()
  std::vector<std::shared_ptr<job>> incoming_;
  std::vector<std::shared_ptr<job>> taken_;  // the progress side of incoming_
  std::size_t unfinished_jobs_ = 0;
  bool wake_requested_ = false;
  std::atomic<bool> news_{false};  // incoming_ or terminating_ changed
  bool closed_ = false;
  bool terminating_ = false;
  bool shutting_down_ = false;
  std::exception_ptr broken_;  // set if the engine failed

  std::thread progress_;
};

}  // namespace mpipool::detail
