// Runs tasks in a task process that this rank forks and watches. A crash, a kill
// from outside, or running out of memory fails the one item that was running
// (the progress board says which); items that had not run yet are sent to the
// next task process. Timeouts and maxtasksperchild are enforced here too.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "backoff.hpp"
#include "chunk_items.hpp"
#include "coarse_clock.hpp"
#include "cpu_affinity.hpp"
#include "error_record.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/task.hpp"
#include "proxy_broker.hpp"
#include "runner.hpp"
#include "shared_arena.hpp"
#include "task_process.hpp"

namespace mpipool::detail {

namespace {

// Chunks written ahead into the task process's pipe, so it never waits for the rank.
constexpr std::size_t chunks_ahead = 256;
// The shortest nap of a rank whose task process works from the lane, between its looks
// at MPI and at the task process (each takes the core from the task process).
constexpr auto lane_nap = std::chrono::microseconds(500);

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "task process killed by signal " + std::to_string(sig) + " (" + (name != nullptr ? name : "?") + ")";
  }
  if (WIFEXITED(status)) return "task process exited with status " + std::to_string(WEXITSTATUS(status));
  return "task process ended (wait status " + std::to_string(status) + ")";
}

/// How many items a result record answers: a run of packed results counts them first.
std::uint32_t run_length(wire::item_status status, std::span<const std::byte> payload) {
  if (status != wire::item_status::ok_run) return 1;
  return std::max<std::uint32_t>(1, byte_reader(payload).get<std::uint32_t>());
}

class supervised_runner final : public runner {
 public:
  supervised_runner() {
    static std::once_flag ignore_sigpipe;
    // A task process that dies mid-write must not take the rank with it.
    std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
    large_blocks::use_shared_arena();  // before the first fork
  }
  ~supervised_runner() override { stop_child(true); }
  supervised_runner(const supervised_runner&) = delete;
  supervised_runner& operator=(const supervised_runner&) = delete;

  [[nodiscard]] execution mode() const override { return execution::supervised; }

  void begin_session(const wire::session_init& init, const origin& identity) override {
    if (child_parked_) {
      child_parked_ = false;
      next_death_check_ = {};  // look now, not at the next rate-limited check
      if (same_settings(init, init_) && identity.describe() == identity_.describe() && !child_died()) {
        offer_due_ = child_.lane.to_task != nullptr;  // a new master, or the same one afresh
        work_from_lane_ = false;  // until the new master has mapped the lane, chunks come over MPI
        return;
      }
      stop_child(false);
    }
    init_ = init;
    identity_ = identity;
    try {
      start_child();
      wait_for_initializer();
    } catch (...) {
      stop_child(true);  // the runner outlives the session: its failed task process must not
      throw;
    }
  }

  void end_session(bool kill_running) override {
    pending_.clear();
    // An idle task process of a pool without initializer or recycling stays for the
    // next pool: a fork of an MPI process costs milliseconds (15 ms on a small VM).
    // Not when a task kept a pool open (its proxy would outlive the session), nor
    // under a memory limit (set at fork: the old heap would eat the new budget).
    // lane_settled() last but one: it costs a round trip, and it may empty in_child_.
    const bool reusable = !kill_running && !child_closed_ && !recycling_ && !init_.initializer &&
                          init_.maxtasksperchild == 0 && init_.task_memory_limit == 0 && child_.pid > 0 &&
                          (!broker_ || broker_->empty()) && lane_settled() && in_child_.empty();
    if (reusable) {
      child_parked_ = true;
      return;
    }
    stop_child(kill_running || !in_child_.empty());
    in_child_.clear();
  }

  void add(task_chunk chunk) override {
    work_from_lane_ = false;
    const auto count = chunk.header.count;
    pending_.push_back({std::move(chunk), 0, count});
  }

  bool step(result_batch& results) override {
    bool progressed = read_child(results);
    progressed |= watch_child(results);
    progressed |= feed_child();
    return progressed;
  }

  [[nodiscard]] bool busy() const override { return !pending_.empty() || !in_child_.empty(); }
  // A step only relays: what it leaves is known after it.
  [[nodiscard]] bool busy_after_next_step() const override { return busy(); }

  std::optional<lane_offer> take_lane_offer() override {
    if (!offer_due_) return std::nullopt;
    offer_due_ = false;
    return child_.lane.offer();
  }

  void idle_wait(backoff& idle) override {
    const auto pause = idle.next_sleep();
    if (lane_only() && !idle.must_stay_awake()) {
      // Its work comes through the lane: the task process needs this core, not us. We
      // sleep until it writes to us (lane notes do not wake us) or the nap is over; a
      // death, and what comes over MPI (large chunks, the session's end), is noticed
      // then, up to a nap late (at most 1 ms).
      child_.from_child->wait_readable(std::max(pause, lane_nap));
      return;
    }
    if (pause.count() == 0) {
      // A task process bound to this core cannot run while we spin on it (measured
      // on 2 cores, 1 worker: no-op maps 25 to 30% faster). Unbound on a crowded
      // node, spinning a while first does better (2 workers: 1.3 to 2.4M items/s
      // against 0.95 to 1.3M yielding at once).
      if (!in_child_.empty() && bound_to_one_core()) {
        std::this_thread::yield();
      } else {
        idle.spin();
      }
      return;
    }
    // Sleep on the results ring until the task process answers, or the pause is over.
    child_.from_child->wait_readable(pause);
  }

 private:
  struct span_of_items {
    task_chunk chunk;
    std::uint32_t begin = 0;  // items [begin, end) of the chunk
    std::uint32_t end = 0;
    std::uint32_t next = 0;   // first item without a result (in the task process only)
    bool from_lane = false;   // the task process took it from the master's lane
  };

  void start_child() {
    child_ = fork_task_process(init_, identity_, wants_lane());
    offer_due_ = child_.lane.to_task != nullptr;
    work_from_lane_ = false;  // until the master has mapped the new lane, chunks come over MPI
    last_pid_ = child_.pid;
    reader_ = frame_reader();
    writer_.clear();
    assigned_ = 0;
    recycling_ = false;
    broker_ = std::make_unique<proxy_broker>(writer_, [this] { writer_.flush(*child_.to_child); });
  }

  /// A lane pays where the task process shares this rank's only core: relaying cost two
  /// context switches a round trip there. On a node with fewer cores than processes and
  /// none bound, the master would pay the wake-ups the ranks pay now, and it is the
  /// bottleneck there (2 workers on 2 cores, chunksize 1: 2.3M items/s against 3.3M).
  /// None under maxtasksperchild: the rank counts what it gives a task process.
  [[nodiscard]] bool wants_lane() const {
    return init_.maxtasksperchild == 0 && lanes_enabled() && bound_to_one_core();
  }

  /// The first task process of a session reports its initializer before READY goes out.
  void wait_for_initializer() {
    for (;;) {
      child_.from_child->wait_readable(std::chrono::milliseconds(100));
      const bool open = reader_.fill(*child_.from_child) && !child_died();
      while (auto incoming = reader_.next()) {
        if (incoming->kind != frame_kind::init_done) continue;
        byte_reader in(incoming->body);
        if (in.get<std::uint8_t>() != 0) return;
        std::rethrow_exception(read_error(in.take(in.remaining())));
      }
      if (!open) {
        const int status = reap(false);
        throw error("the task process died while running the pool initializer: " + describe_exit(status));
      }
    }
  }

  bool feed_child() {
    bool fed = false;
    while (!pending_.empty() && in_child_.size() < chunks_ahead && !recycling_) {
      auto& next = pending_.front();
      std::uint32_t end = next.end;
      if (init_.maxtasksperchild > 0) {
        const std::uint64_t quota = init_.maxtasksperchild - assigned_;
        if (quota == 0) break;
        if (end - next.begin > quota) end = next.begin + static_cast<std::uint32_t>(quota);
      }
      stage_chunk(next.chunk, next.begin, end);
      in_child_.push_back({next.chunk, next.begin, end, next.begin});
      assigned_ += end - next.begin;
      if (end == next.end) {
        pending_.pop_front();
      } else {
        next.begin = end;
      }
      fed = true;
    }
    if (!staged_.empty()) {
      writer_.write(*child_.to_child, staged_);
    } else if (writer_.pending()) {
      writer_.flush(*child_.to_child);
    }
    return fed;
  }

  /// Frames items [begin, end) of `chunk` for the task process: large items that MPI
  /// put in the shared arena by their place there, others by copy.
  void stage_chunk(const task_chunk& chunk, std::uint32_t begin, std::uint32_t end) {
    std::span<const std::byte> items;
    try {
      items = chunk_items(chunk.items, chunk.header.item_size).slice(begin, end);
    } catch (const serialization_error&) {
      // A malformed chunk: no items go, and the task process fails each of them.
    }
    const auto& rank_arena = shared_arena::of_rank();
    const bool in_place = items.size() >= large_blocks::threshold && rank_arena.contains(items);
    const auto start = begin_frame(staged_, in_place ? frame_kind::chunk_shared : frame_kind::chunk);
    auto head = chunk_frame_head{chunk.header, begin};
    head.header.count = end - begin;
    put_chunk_head(staged_, head);
    if (in_place) {
      staged_.put<std::uint64_t>(rank_arena.offset_of(items.data()));
      staged_.put<std::uint64_t>(items.size());
    } else {
      staged_.append(items.data(), items.size());
    }
    end_frame(staged_, start);
  }

  /// Takes what the task process wrote. `gone`: it died, and only its results and notes
  /// count; a pool its task asked for at the last moment is not opened for nobody.
  bool read_child(result_batch& results, bool gone = false) {
    if (!reader_.fill(*child_.from_child)) child_closed_ = true;  // it left (maxtasksperchild)
    bool any = false;
    while (auto incoming = reader_.next()) {
      any = true;
      if (incoming->kind == frame_kind::item_result) {
        take_result(incoming->body, results);
      } else if (incoming->kind == frame_kind::results_shared) {
        take_lent_results(incoming->body, results);
      } else if (incoming->kind == frame_kind::lane_chunk) {
        track_lane_chunk(incoming->body);
      } else if (incoming->kind == frame_kind::lane_done) {
        take_lane_done(incoming->body);
      } else if (incoming->kind == frame_kind::flushed) {
        flushed_ = true;
      } else if (incoming->kind != frame_kind::init_done && !gone) {
        broker_->handle(frame::copy_of(*incoming));  // the running task opened or uses a pool
      }
    }
    return any;
  }

  /// Items whose results the task process wrote to the lane.
  void take_lane_done(std::span<const std::byte> body) {
    byte_reader in(body);
    const auto count = in.get<std::uint32_t>();
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto chunk = in.get<std::uint64_t>();
      answered(chunk, in.get<std::uint32_t>());
    }
  }

  void take_result(std::span<const std::byte> body, result_batch& results) {
    const auto result = read_item_result(body);
    results.add(result.chunk, result.item, result.status, result.payload);
    answered(result.chunk, result.item + run_length(result.status, result.payload) - 1);
  }

  /// Result frames the task process wrote in its arena: read there, then released.
  void take_lent_results(std::span<const std::byte> body, result_batch& results) {
    byte_reader in(body);
    const auto offset = in.get<std::uint64_t>();
    const auto size = in.get<std::uint64_t>();
    const auto lent = shared_arena::of_task_process().bytes_at(offset, size);
    try {
      if (!lent) throw serialization_error("a batch of results outside the task process's arena");
      auto frames = *lent;
      results.reserve(frames.size());
      while (auto result = cut_frame(frames)) {
        if (result->kind == frame_kind::item_result) take_result(result->body, results);
      }
    } catch (const serialization_error&) {
      // A task wrote over the task process's memory. Replaced, it fails the item it was
      // running and the items without results run again (watch_child). Read after its
      // death, there is nobody left to kill (and kill(-1) would kill everything we own).
      if (child_.pid > 0) ::kill(child_.pid, SIGKILL);
      return;
    }
    byte_buffer release;
    const auto start = begin_frame(release, frame_kind::results_release);
    release.put(offset);
    end_frame(release, start);
    writer_.queue(std::move(release));  // feed_child sends it
  }

  /// A chunk the task process took from the lane: ours to watch, as if we had sent it.
  static std::optional<span_of_items> lane_span(std::span<const std::byte> body) {
    try {
      byte_reader in(body);
      const auto head = get_chunk_head(in);
      if (head.first != 0 || head.header.count == 0) return std::nullopt;  // the master sends whole chunks
      const auto items = in.take(in.remaining());
      auto copy = std::make_shared<byte_buffer>();
      copy->append(items.data(), items.size());
      task_chunk chunk{head.header, nullptr, copy->view()};
      chunk.message = std::move(copy);
      return span_of_items{std::move(chunk), 0, head.header.count, 0, true};
    } catch (const serialization_error&) {
      return std::nullopt;
    }
  }

  void track_lane_chunk(std::span<const std::byte> body) {
    work_from_lane_ = true;
    if (auto span = lane_span(body)) in_child_.push_back(std::move(*span));
  }

  /// The task process is gone: no more chunks into its lane, and those still there are ours.
  void reclaim_lane() {
    if (!child_.lane.to_task) return;
    child_.lane.to_task->refuse_writers();
    frame_reader left;
    left.fill(*child_.lane.to_task);
    while (auto chunk = left.next()) {
      auto span = lane_span(chunk->body);
      if (!span) continue;
      const bool tracked = std::any_of(in_child_.begin(), in_child_.end(), [&](const span_of_items& known) {
        return known.chunk.header.id == span->chunk.header.id;
      });
      if (!tracked) pending_.push_back(std::move(*span));
    }
  }

  /// Work comes through the lane (the last chunk did), and nothing waits here.
  [[nodiscard]] bool lane_only() const {
    return child_.lane.to_task && work_from_lane_ && pending_.empty() && !writer_.pending() &&
           std::all_of(in_child_.begin(), in_child_.end(), [](const span_of_items& s) { return s.from_lane; });
  }

  /// Whether nothing of the session is left in the lane or on its way about it: then the
  /// task process may serve the next pool, whose chunk ids start again at 1. The rank
  /// sleeps through the notes of lane chunks, so it asks the task process to flush and
  /// answer (flushed), and reads everything before that answer.
  bool lane_settled() {
    if (!child_.lane.to_task) return true;
    if (child_.pid <= 0) return false;
    writer_.queue(empty_frame(frame_kind::flush_request));
    writer_.flush(*child_.to_child);
    result_batch ignored;  // results of a released session: the master has them all
    flushed_ = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (!flushed_ && std::chrono::steady_clock::now() < give_up && !child_died()) {
      child_.from_child->wait_readable(std::chrono::milliseconds(1));
      writer_.flush(*child_.to_child);
      read_child(ignored);
    }
    return flushed_ && in_child_.empty() && child_.lane.to_task->readable() == 0 &&
           child_.lane.from_task->readable() == 0;
  }

  void answered(std::uint64_t chunk, std::uint32_t item) {
    for (auto it = in_child_.begin(); it != in_child_.end(); ++it) {
      if (it->chunk.header.id != chunk || item < it->begin || item >= it->end) continue;
      it->next = item + 1;
      if (it->next == it->end) in_child_.erase(it);
      return;
    }
  }

  bool watch_child(result_batch& results) {
    if (recycling_ && in_child_.empty()) {
      // maxtasksperchild: its input is closed; it exits once done.
      stop_child(false);
      start_child();
      return true;
    }
    if (const auto running = running_span(); running != in_child_.end()) {
      const auto limit = std::chrono::milliseconds(running->chunk.header.timeout_ms);
      const auto started = std::chrono::steady_clock::time_point(
          std::chrono::steady_clock::duration(child_.board->started_ns.load(std::memory_order_relaxed)));
      if (limit.count() > 0 && std::chrono::steady_clock::now() - started > limit) {
        ::kill(child_.pid, SIGKILL);
        lost(results, reap(false), "task ran longer than its timeout of " + std::to_string(limit.count()) + " ms",
             true);
        return true;
      }
    }
    if (child_closed_ || child_died()) {
      lost(results, reap(false), {}, false);
      return true;
    }
    if (init_.maxtasksperchild > 0 && assigned_ >= init_.maxtasksperchild && !recycling_) {
      recycling_ = true;
      if (in_child_.empty()) return watch_child(results);
    }
    return false;
  }

  /// The span whose item the task process is running now (the progress board says
  /// which), or end(). Not simply the oldest: that one may be done with its results
  /// still on their way.
  std::deque<span_of_items>::iterator running_span() {
    if (child_.board->running.load(std::memory_order_acquire) == 0) return in_child_.end();
    const auto chunk = child_.board->chunk.load(std::memory_order_relaxed);
    const auto item = child_.board->item.index.load(std::memory_order_relaxed);
    return std::find_if(in_child_.begin(), in_child_.end(), [&](const span_of_items& span) {
      return span.chunk.header.id == chunk && item >= span.next && item < span.end;
    });
  }

  /// The task process is gone: fail the item it was running, re-queue the rest, start another.
  void lost(result_batch& results, int status, const std::string& timeout_reason, bool timed_out) {
    read_child(results, true);  // what it wrote before it died: results, and notes of lane chunks
    reclaim_lane();
    const auto chunk = child_.board->chunk.load(std::memory_order_relaxed);
    const auto item = child_.board->item.index.load(std::memory_order_relaxed);
    const auto suspects = child_.board->item.span.load(std::memory_order_relaxed);
    broker_->close_all(true);  // the pools its task opened go with it
    const auto running = running_span();
    if (running != in_child_.end() && suspects > 1 && !timed_out) {
      // It died inside a block of a typed loop: which item did it is unknown. The
      // block goes to the next task process as a span of its own, whose items run
      // one by one and named (packed_loop), so if one crashes again it fails alone.
      const std::uint32_t block_end = std::min(running->end, item + suspects);
      const span_of_items block{running->chunk, item, block_end, item};
      const span_of_items after{running->chunk, block_end, running->end, block_end};
      running->end = item;
      const auto at = in_child_.insert(std::next(running), block);
      if (after.begin < after.end) in_child_.insert(std::next(at), after);
    } else if (running != in_child_.end()) {
      origin here = identity_;
      here.pid = static_cast<long>(last_pid_);
      try {
        here.task = registry::instance().entry(running->chunk.header.task).name;
      } catch (...) {
      }
      byte_buffer record;
      if (timed_out) {
        write_timeout(record, timeout_reason, here);
      } else {
        write_lost(record, describe_exit(status), here, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      }
      results.add(chunk, item, timed_out ? wire::item_status::failed : wire::item_status::lost, record.view());
      // Items before it whose results were not sent yet run again; so do those after it.
      const span_of_items after{running->chunk, item + 1, running->end, item + 1};
      running->end = item;
      if (after.begin < after.end) in_child_.insert(std::next(running), after);
    }
    for (auto it = in_child_.rbegin(); it != in_child_.rend(); ++it) {
      if (it->next < it->end) pending_.push_front({it->chunk, it->next, it->end, it->next});
    }
    in_child_.clear();
    stop_child(true);
    start_child();
  }

  /// Looks, at most once a clock tick, whether the task process has died (its pipe closed).
  bool child_died() {
    const auto now = coarse_now();  // every step asks: a fine clock read would cost more than the question
    if (now < next_death_check_) return false;
    next_death_check_ = now + std::chrono::milliseconds(1);
    pollfd alive{child_.alive, POLLIN, 0};
    return ::poll(&alive, 1, 0) > 0;  // readable or hung up: only its death closes the write end
  }

  /// Waits for the task process to end; `kill` first makes sure it does.
  int reap(bool kill) {
    if (child_.pid <= 0) return 0;
    if (kill) ::kill(child_.pid, SIGKILL);
    int status = 0;
    // After its pipe closed it is exiting; give it a moment, then insist.
    for (int tries = 0; tries < 100; ++tries) {
      if (::waitpid(child_.pid, &status, WNOHANG) == child_.pid) {
        child_.pid = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (tries == 50) ::kill(child_.pid, SIGKILL);
    }
    ::waitpid(child_.pid, &status, 0);
    child_.pid = -1;
    return status;
  }

  /// Whether a task process forked for `before` can serve a session `now` as it is.
  static bool same_settings(const wire::session_init& now, const wire::session_init& before) {
    if (now.initializer || before.initializer) return false;
    const auto a = wire::encode(now);
    const auto b = wire::encode(before);
    return std::ranges::equal(a.view(), b.view());
  }

  void stop_child(bool kill) {
    if (child_.lane.to_task) child_.lane.to_task->refuse_writers();  // the master falls back to MPI
    if (broker_) broker_->close_all(kill);
    if (child_.to_child) child_.to_child->close();  // end of input: an idle task process exits
    reap(kill);
    shared_arena::of_task_process().discard_all();  // its results were read: the pages go back
    if (child_.alive >= 0) ::close(child_.alive);
    child_.alive = -1;
    child_.to_child.reset();
    child_.from_child.reset();
    unmap_board(child_.board);
    child_.board = nullptr;
    child_.lane = {};
    offer_due_ = false;
    child_closed_ = false;
    writer_.clear();
  }

  wire::session_init init_;
  origin identity_;
  task_process_handle child_;
  pid_t last_pid_ = -1;
  bool child_closed_ = false;
  std::chrono::steady_clock::time_point next_death_check_{};
  frame_reader reader_;
  frame_writer writer_;
  byte_buffer staged_;  // the chunk frames of one feed_child, kept for its buffer
  std::unique_ptr<proxy_broker> broker_;
  std::deque<span_of_items> pending_;
  std::deque<span_of_items> in_child_;
  std::uint64_t assigned_ = 0;  // items given to this task process, for maxtasksperchild
  bool recycling_ = false;
  bool child_parked_ = false;  // idle since the last session ended, kept for the next
  bool offer_due_ = false;     // the master has not been offered this task process's lane yet
  bool work_from_lane_ = false;  // the last chunk came through the lane, not from us
  bool flushed_ = false;         // the task process answered our flush_request
};

}  // namespace

std::unique_ptr<runner> make_supervised_runner() { return std::make_unique<supervised_runner>(); }

}  // namespace mpipool::detail
