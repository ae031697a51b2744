#include "manager.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "backoff.hpp"
#include "chunk_items.hpp"
#include "context.hpp"
#include "slots.hpp"
#include "timer_slack.hpp"
#include "error_record.hpp"
#include "mpipool/task.hpp"

namespace mpipool::detail {

namespace {

std::chrono::seconds start_timeout() {
  const char* text = std::getenv("MPIPOOL_START_TIMEOUT");
  const long seconds = text != nullptr ? std::atol(text) : 0;
  return std::chrono::seconds(seconds > 0 ? seconds : 120);
}

// The window adapts so that each worker has about this much work queued, which
// covers the master's longest idle sleep and a message round trip.
constexpr double queued_work_target_us = 2000.0;
constexpr std::size_t min_window = 2;
constexpr std::size_t max_window = 256;
constexpr int max_messages_per_round = 64;
// A chunk this large is sent from its own buffer instead of being copied into a batch.
constexpr std::size_t own_message_bytes = std::size_t{64} << 10;

// Jobs and their places in the feeding list move between a list and its spare list,
// so a lone apply allocates no list nodes (each node cost a malloc and a free).
constexpr std::size_t max_spare_nodes = 1024;

template <class T>
void push_back_reusing(std::list<T>& list, std::list<T>& spare, T value) {
  if (spare.empty()) {
    list.push_back(std::move(value));
    return;
  }
  list.splice(list.end(), spare, spare.begin());
  list.back() = std::move(value);
}

/// Erases `at` from `list`, keeping its node in `spare`; returns the element after it.
template <class T>
typename std::list<T>::iterator erase_reusing(std::list<T>& list, std::list<T>& spare,
                                              typename std::list<T>::iterator at) {
  if (spare.size() >= max_spare_nodes) return list.erase(at);
  const auto next = std::next(at);
  spare.splice(spare.begin(), list, at);
  return next;
}

}  // namespace

manager::manager(link& workers, std::shared_ptr<session_owner> owner, const pool_options& options,
                 int worker_depth)
    : link_(workers),
      owner_(std::move(owner)),
      worker_count_(static_cast<std::size_t>(workers.remote_size())),
      fixed_window_(std::min(options.prefetch, max_window)),
      worker_states_(worker_count_),
      grants_(worker_count_) {
  for (auto& state : worker_states_) state.window = fixed_window_ != 0 ? fixed_window_ : min_window;
  handshake(options, worker_depth);
  progress_ = std::thread([this] { run(); });
  context::current().register_engine(this);
}

manager::~manager() {
  context::current().unregister_engine(this);
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    shutting_down_ = true;
  }
  work_cv_.notify_all();
  if (progress_.joinable()) progress_.join();
  if (owner_) owner_->session_ended(released_cleanly_);
}

void manager::handshake(const pool_options& options, int worker_depth) {
  wire::session_init init;
  init.fingerprint = registry::instance().fingerprint();
  init.mode = options.mode;
  init.maxtasksperchild = options.maxtasksperchild;
  init.task_memory_limit = options.task_memory_limit;
  init.depth = worker_depth;
  init.max_depth = context::current().max_depth();
  const auto timing = context::current().heartbeats().settings();
  init.heartbeat_ms = static_cast<std::uint32_t>(timing.heartbeat.count());
  init.peer_timeout_ms = static_cast<std::uint32_t>(timing.peer_timeout.count());
  peer_timeout_ = timing.peer_timeout;
  init.workers = static_cast<std::int32_t>(worker_count_);
  init.initializer = options.initializer;
  const byte_buffer body = wire::encode(init);
  for (std::size_t w = 0; w < worker_count_; ++w) link_.send(static_cast<int>(w), wire::tag_init, body);

  identities_.resize(worker_count_);
  std::vector<bool> answered(worker_count_, false);
  std::size_t answers = 0;
  std::exception_ptr failure;
  const auto deadline = clock::now() + start_timeout();
  backoff idle(std::chrono::microseconds(50));  // the answers are due within microseconds
  while (answers < worker_count_) {
    link_.progress_sends();
    auto incoming = link_.receive();
    if (!incoming) {
      if (clock::now() > deadline) {
        throw timeout_error(std::to_string(worker_count_ - answers) + " of " + std::to_string(worker_count_) +
                            " workers did not answer the pool start within " +
                            std::to_string(start_timeout().count()) +
                            " s (MPIPOOL_START_TIMEOUT); are they stuck in a task of another pool?");
      }
      idle.pause();
      continue;
    }
    idle.reset();
    const auto w = static_cast<std::size_t>(incoming->source);
    if (incoming->tag == wire::tag_lane && answered[w]) {
      on_lane_offer(w, incoming->body);  // follows the worker's ready
      continue;
    }
    if (incoming->tag != wire::tag_ready || answered[w]) continue;  // nothing else is due now
    byte_reader reader(incoming->body.view());
    auto reply = wire::decode_ready(reader);
    answered[w] = true;
    ++answers;
    reply.identity.workers = static_cast<int>(worker_count_);
    reply.identity.depth = worker_depth;
    identities_[w] = reply.identity;
    if (failure) continue;
    if (reply.fingerprint != init.fingerprint) {
      failure = std::make_exception_ptr(registry_mismatch(
          "worker rank " + std::to_string(reply.identity.rank) + " on " + reply.identity.host +
          " has a different task registry than the master: master and workers must run the same binary "
          "(check the mpirun command line for ':' segments or a stale build)"));
    } else if (!reply.ok) {
      failure = read_error(reply.failure.view());
    }
  }
  if (failure) {
    release_workers(false);
    std::rethrow_exception(failure);
  }
}

void manager::release_workers(bool kill_running) {
  byte_buffer body;
  body.put<std::uint8_t>(kill_running ? 1 : 0);
  std::size_t expected = 0;
  for (std::size_t w = 0; w < worker_count_; ++w) {
    if (!worker_states_[w].alive) continue;
    link_.send(static_cast<int>(w), wire::tag_release, body);
    ++expected;
  }
  // Results still on their way are dropped; "released" is the last message of the session.
  backoff idle(std::chrono::microseconds(1000), std::chrono::microseconds(50), std::chrono::milliseconds(20));
  while (expected > 0) {
    link_.progress_sends();
    auto incoming = link_.receive();
    if (!incoming) {
      idle.pause();
      continue;
    }
    idle.reset();
    if (serve_slots(*incoming)) continue;  // a task ending late may still return its sub-pool's slots
    if (incoming->tag == wire::tag_released) --expected;
  }
  while (link_.sends_pending()) {
    if (!link_.progress_sends()) idle.pause();
  }
  for (std::size_t w = 0; w < worker_count_; ++w) drop_lane(w);
}

void manager::submit(std::shared_ptr<job> work) {
  {
    std::lock_guard lock(mutex_);
    if (broken_) std::rethrow_exception(broken_);
    if (closed_) {
      throw pool_closed("the pool is closed: no new tasks are accepted after close() or terminate(); "
                        "create a new pool");
    }
    incoming_.push_back(std::move(work));
    news_.store(true, std::memory_order_release);
    ++unfinished_jobs_;
  }
  // Send it from this thread if nobody else is driving: no hand-off to the progress thread.
  if (!try_progress()) work_cv_.notify_one();
}

void manager::drain_for_exit() {
  const auto give_up = clock::now() + std::chrono::milliseconds(500);
  while (clock::now() < give_up) {
    if (!try_progress()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::unique_lock drive(drive_mutex_, std::try_to_lock);  // receives are the driver's
    if (drive.owns_lock() && !link_.receive_pending()) break;
  }
}

bool manager::try_progress() {
  if (!drive_mutex_.try_lock()) return false;
  deferred_callbacks callbacks;
  const bool worked = progress_once();
  drive_mutex_.unlock();
  callbacks.run();
  return worked;
}

bool manager::drive_until(const std::function<bool()>& done, clock::time_point deadline) {
  if (done()) return true;
  waits_.fetch_add(one_waiter + one_wait_begun);
  backoff idle;
  idle.stay_awake_while([this] { return link_.large_send_moving(); });
  timer_slack_scope fine_naps;  // this may be a user's thread: its slack is restored on return
  bool finished = false;
  // Most waits have no deadline: then a round reads no clock (see backoff::next_sleep).
  const bool has_deadline = deadline != clock::time_point::max();
  for (;;) {
    if (done()) {
      finished = true;
      break;
    }
    if (has_deadline && clock::now() >= deadline) break;
    if (try_progress()) {
      idle.reset();
      continue;
    }
    const auto pause = idle.next_sleep();
    if (pause.count() == 0) {
      idle.spin();
    } else {
      const auto now = clock::now();
      if (now >= deadline) break;
      fine_naps.sleep(std::min<clock::duration>(std::min(pause, nap_cap()), deadline - now));
    }
  }
  // The progress thread notices within its rest; it is woken only from a long one, and
  // only if work is out (run()). Both sides store, then load, sequentially consistent:
  // one of them sees the other. The mutex, taken before the notify, is held by the
  // progress thread until it waits, so the call cannot come too early.
  if (waiting(waits_.fetch_sub(one_waiter)) == 1 && resting_long_.load() && !engine_idle_.load()) {
    { std::lock_guard lock(mutex_); }
    work_cv_.notify_one();
  }
  return finished;
}

void manager::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_requested_ = true;
  }
  work_cv_.notify_one();
}

void manager::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

void manager::join() {
  {
    std::lock_guard lock(mutex_);
    if (!closed_) throw error("join() needs close() or terminate() first, as in Python");
  }
  drive_until(
      [this] {
        std::lock_guard lock(mutex_);
        return unfinished_jobs_ == 0 || broken_;
      },
      clock::time_point::max());
  std::lock_guard lock(mutex_);
  if (broken_) std::rethrow_exception(broken_);
}

void manager::terminate() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    terminating_ = true;
    news_.store(true, std::memory_order_release);
  }
  work_cv_.notify_all();
  drive_until(
      [this] {
        std::lock_guard lock(mutex_);
        return unfinished_jobs_ == 0 || broken_;
      },
      clock::time_point::max());
}

bool manager::idle() const { return jobs_.empty() && chunks_.empty(); }

std::chrono::microseconds manager::nap_cap() const {
  if (engine_idle_.load(std::memory_order_acquire)) return std::chrono::microseconds(max_nap_us);
  return std::chrono::microseconds(busy_nap_cap_us_.load(std::memory_order_relaxed));
}

bool manager::progress_once() {
  try {
    bool worked = take_submissions();
    worked |= dispatch();  // new work leaves before the receive poll: a lone apply waits on no probe
    worked |= receive();
    worked |= find_lost_workers();
    worked |= dispatch();  // into the windows that results reopened
    worked |= link_.progress_sends();
    engine_idle_.store(idle(), std::memory_order_release);
    return worked;
  } catch (...) {
    const auto failure = std::current_exception();
    abandon_all(failure);
    engine_idle_.store(true, std::memory_order_release);
    std::lock_guard lock(mutex_);
    if (!broken_) broken_ = failure;
    done_cv_.notify_all();
    return false;
  }
}

void manager::run() {
  set_fine_timer_slack();
  backoff idle_wait;
  idle_wait.stay_awake_while([this] { return link_.large_send_moving(); });
  auto rest = min_rest_while_waited;
  std::uint64_t waits_seen = 0;  // waits begun when the last rest started
  for (;;) {
    const auto waits = waits_.load();
    // Rest while a thread drives as it waits, and while the engine is idle between the
    // waits of a thread that keeps coming back (a loop of apply calls is outside its
    // waits for a third of each call). The rest grows while it lasts: every wake-up takes
    // a core from the waiter or a worker for microseconds (on 2 cores, a wake-up every
    // 1 ms made one sequential apply in 1,000 take 20 to 30 us). It ends at shutdown,
    // when an imap consumer frees room, and when it finds nobody waiting and work out:
    // a waiter that leaves work out notifies a long rest (a notify costs a system call,
    // too much for every wait); otherwise, as for work submitted without a wait after
    // one, the rest's own end (1 to 4 ms) bounds the delay.
    if (waiting(waits) > 0 || (begun(waits) != waits_seen && engine_idle_.load())) {
      waits_seen = begun(waits);
      std::unique_lock lock(mutex_);
      if (!shutting_down_) {
        resting_long_.store(rest > min_rest_while_waited);
        work_cv_.wait_for(lock, rest, [this] {
          return wake_requested_ || shutting_down_ || (waiting(waits_.load()) == 0 && !engine_idle_.load());
        });
        resting_long_.store(false);
        wake_requested_ = false;
        rest = std::min(rest * 2, max_rest_while_waited);
        continue;
      }
    }
    rest = min_rest_while_waited;
    const bool worked = try_progress();
    {
      std::lock_guard lock(mutex_);
      if (broken_) return;
      if (shutting_down_ && incoming_.empty() && (terminating_ || engine_idle_.load())) break;
    }
    if (worked) {
      idle_wait.reset();
      continue;
    }
    const auto pause = idle_wait.next_sleep();
    if (pause.count() == 0) {
      idle_wait.spin();
      continue;
    }
    std::unique_lock lock(mutex_);
    work_cv_.wait_for(lock, std::min(pause, nap_cap()), [this] {
      return !incoming_.empty() || wake_requested_ || shutting_down_ || terminating_;
    });
    wake_requested_ = false;
  }
  bool kill_running = false;
  {
    std::lock_guard lock(mutex_);
    kill_running = terminating_;
  }
  std::lock_guard drive(drive_mutex_);
  if (kill_running) abandon_all(std::make_exception_ptr(pool_closed("the pool was terminated")));
  try {
    release_workers(kill_running);
    released_cleanly_ = true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpipool: warning: releasing the workers failed: %s\n", e.what());
  }
}

bool manager::take_submissions() {
  // Checked without the lock on every round; submit() and terminate() set it under the lock.
  if (!news_.load(std::memory_order_acquire)) return false;
  auto& fresh = taken_;  // swapped with incoming_, so neither vector gives its memory back
  fresh.clear();
  bool terminate_now = false;
  {
    std::lock_guard lock(mutex_);
    news_.store(false, std::memory_order_relaxed);
    fresh.swap(incoming_);
    terminate_now = terminating_ && !(jobs_.empty() && chunks_.empty() && fresh.empty());
  }
  for (auto& work : fresh) {
    push_back_reusing(jobs_, spare_jobs_, job_record{std::move(work)});
    push_back_reusing(feeding_, spare_feeding_, std::prev(jobs_.end()));
  }
  if (terminate_now) {
    abandon_all(std::make_exception_ptr(pool_closed("the pool was terminated before this task finished")));
  }
  return !fresh.empty() || terminate_now;
}

bool manager::next_chunk_for(int worker, std::uint64_t& chunk_id) {
  // Lost items waiting for a retry go first, preferably to another worker.
  for (auto it = retries_.begin(); it != retries_.end(); ++it) {
    const auto& chunk = chunks_.at(*it);
    if (chunk.avoid_worker == worker && worker_count_ > 1) continue;
    chunk_id = *it;
    retries_.erase(it);
    return true;
  }
  {
    auto items = spare_items_.take();
    encoded_chunk fresh;
    fresh.items = std::move(*items);  // a job that cuts or encodes chunks as they leave writes into it
    for (auto it = feeding_.begin(); it != feeding_.end();) {
      const auto record = *it;
      if (record->work->next_chunk(fresh)) {
        chunk_id = next_chunk_id_++;
        chunk_record chunk;
        chunk.owner = record;
        chunk.first_index = fresh.first_index;
        chunk.count = fresh.count;
        chunk.item_size = fresh.item_size;
        chunk.unsettled = fresh.count;
        *items = std::move(fresh.items);
        chunk.items = std::move(items);
        chunk.adopted = std::move(fresh.adopted);
        chunk.settled.reset(fresh.count);
        record->issued += fresh.count;
        add_chunk(chunk_id, std::move(chunk));
        if (record->work->input_done()) {  // its last chunk: stop asking it
          erase_reusing(feeding_, spare_feeding_, it);
          record->feeding = false;
        }
        return true;
      }
      if (record->work->input_done()) {
        it = erase_reusing(feeding_, spare_feeding_, it);
        record->feeding = false;
        job_progressed(record);
      } else {
        ++it;  // held back by its consumer (imap); look at the next job
      }
    }
    *items = std::move(fresh.items);
    spare_items_.give_back(std::move(items));
  }
  return false;
}

bool manager::assign_chunk(int worker, byte_buffer& message) {
  std::uint64_t chunk_id = 0;
  if (!next_chunk_for(worker, chunk_id)) return false;
  auto& chunk = chunks_.at(chunk_id);
  chunk.worker = worker;
  ++worker_states_[static_cast<std::size_t>(worker)].in_flight;
  const auto& settings = chunk.owner->work->settings();
  const wire::chunk_header header{chunk_id, settings.task, chunk.count, settings.timeout.count(), chunk.item_size};
  const std::size_t item_bytes = chunk.items->size() - encoded_chunk::header_room + borrowed_size(chunk.adopted);
  if (message.empty() && item_bytes >= own_message_bytes) {
    // A large chunk goes out as its own message: its header goes into the room left for
    // it, and adopted vectors are sent from their own memory.
    byte_buffer& whole = *chunk.items;
    chunk.message = next_message_id_++;
    whole.put_at(0, chunk.message);
    whole.put_at<std::uint32_t>(sizeof(std::uint64_t), 1);
    byte_buffer head;
    wire::put_chunk(head, header, {});
    head.put_at<std::uint64_t>(head.size() - sizeof(std::uint64_t), item_bytes);
    std::memcpy(whole.data() + sizeof(std::uint64_t) + sizeof(std::uint32_t), head.data(), head.size());
    link_.send(worker, wire::tag_tasks, std::shared_ptr<const byte_buffer>(chunk.items), chunk.adopted);
    return true;
  }
  if (worker_states_[static_cast<std::size_t>(worker)].lane && chunk.adopted.empty() &&
      send_by_lane(worker, header, chunk)) {
    return true;
  }
  constexpr std::size_t count_at = sizeof(std::uint64_t);
  if (message.empty()) {
    message.put(next_message_id_++);
    message.put<std::uint32_t>(0);  // chunk count, patched below
  }
  std::memcpy(&chunk.message, message.data(), sizeof chunk.message);
  wire::put_chunk(message, header, chunk.item_view());
  std::uint32_t count = 0;
  std::memcpy(&count, message.data() + count_at, sizeof count);
  message.put_at<std::uint32_t>(count_at, count + 1);
  return true;
}

bool manager::send_by_lane(int worker, const wire::chunk_header& header, chunk_record& chunk) {
  auto& lane = worker_states_[static_cast<std::size_t>(worker)].lane;
  const auto items = chunk.item_view();
  constexpr std::size_t head_bytes = frame_header_bytes + wire::chunk_header_bytes + sizeof(std::uint32_t);
  if (items.size() + head_bytes > lane_max_frame_bytes) return false;
  lane_frame_.clear();
  const auto start = begin_frame(lane_frame_, frame_kind::chunk);
  put_chunk_head(lane_frame_, {header, 0});  // all of it, from its first item
  lane_frame_.append(items.data(), items.size());
  end_frame(lane_frame_, start);
  if (!lane->send(lane_frame_.view())) return false;  // full, or its task process is gone: MPI takes it
  chunk.message = 0;  // in no tasks message
  return true;
}

void manager::on_lane_offer(std::size_t worker, const byte_buffer& body) {
  auto& state = worker_states_[worker];
  if (state.lane) {
    take_lane_results(worker);  // the task process that wrote them is gone: these are its last
    drop_lane(worker);
  }
  // Its descriptors are another node's, or it was lost meanwhile.
  if (!state.alive || identities_[worker].host != node_name()) return;
  try {
    byte_reader in(body.view());
    state.lane = std::make_unique<master_lane>(decode_lane_offer(in));
    ++lanes_open_;
  } catch (const std::system_error& e) {
    // Gone already (its task process died again): the next offer follows. Not ours to
    // open (a hardened /proc): say so once, the same holds for every worker and pool.
    if (e.code() != std::errc::permission_denied && e.code() != std::errc::operation_not_permitted) return;
    static std::once_flag said;
    std::call_once(said, [&] {
      std::fprintf(stderr,
                   "mpipool: note: cannot map the lane to %s (%s); small chunks go through the rank over MPI, "
                   "which is slower for small tasks. MPIPOOL_LANE=0 skips trying.\n",
                   identities_[worker].describe().c_str(), e.what());
    });
  } catch (const std::exception&) {
    // A stale offer whose descriptor now names something else: chunks go over MPI.
  }
}

void manager::drop_lane(std::size_t worker) {
  if (!worker_states_[worker].lane) return;
  worker_states_[worker].lane.reset();
  --lanes_open_;
}

bool manager::take_lane_results(std::size_t worker) {
  auto& state = worker_states_[worker];
  bool any = false;
  try {
    any = state.lane->take_results([this](std::span<const std::byte> body) {
      const auto result = read_item_result(body);
      take_result(result.chunk, result.item, result.status, result.payload);
    });
  } catch (const serialization_error& e) {
    fail_unreadable_results(static_cast<int>(worker), e);
    return true;
  }
  if (any) adapt_window(state);
  return any;
}

bool manager::open_to_work(std::size_t worker) const {
  const auto& state = worker_states_[worker];
  return state.alive && !refused_[worker] && state.in_flight < state.window;
}

bool manager::dispatch() {
  if (feeding_.empty() && retries_.empty()) return false;
  staged_.resize(worker_count_);
  bool any = false;
  // Each level tops up, by one chunk, every worker holding the fewest, so idle workers
  // are served first. Levels start at the lowest count in flight: starting at zero
  // stopped at once when every worker held one, so windows only refilled once drained
  // (measured: W3's 2 ms tasks waited ~120 us for the next chunk after every other task).
  // A worker that all the retries left avoid sits out the rest of the call, so the
  // other workers still fill their windows with those retries.
  refused_.assign(worker_count_, false);
  for (bool out_of_work = false; !out_of_work;) {
    std::size_t lowest = std::numeric_limits<std::size_t>::max();
    for (std::size_t w = 0; w < worker_count_; ++w) {
      if (open_to_work(w)) lowest = std::min(lowest, worker_states_[w].in_flight);
    }
    if (lowest == std::numeric_limits<std::size_t>::max()) break;  // every window is full
    for (std::size_t k = 0; k < worker_count_ && !out_of_work; ++k) {
      const std::size_t w = (next_worker_ + k) % worker_count_;
      if (!open_to_work(w) || worker_states_[w].in_flight != lowest) continue;
      if (assign_chunk(static_cast<int>(w), staged_[w])) {
        any = true;
      } else {
        out_of_work = retries_.empty();
        refused_[w] = true;
      }
    }
  }
  next_worker_ = (next_worker_ + 1) % std::max<std::size_t>(worker_count_, 1);
  for (std::size_t w = 0; w < worker_count_; ++w) {
    if (!staged_[w].empty()) link_.send_keeping(static_cast<int>(w), wire::tag_tasks, staged_[w]);
  }
  return any;
}

bool manager::receive() {
  bool any = false;
  job_finished_ = false;
  for (std::size_t w = 0; lanes_open_ > 0 && w < worker_count_ && !job_finished_; ++w) {
    if (worker_states_[w].lane) any |= take_lane_results(w);
  }
  // Stops after a message that finished a job: its caller may be waiting, and another
  // look for messages first (an empty one costs ~100 ns at MPI_THREAD_MULTIPLE) would delay it.
  for (int n = 0; n < max_messages_per_round && !job_finished_; ++n) {
    // With at most one chunk out, its results are all that is due: take them first.
    auto incoming = link_.receive(chunks_.size() <= 1 ? link::next_receive::post_on_next_look
                                                       : link::next_receive::post_now);
    if (!incoming) break;
    any = true;
    if (incoming->tag == wire::tag_results) {
      on_results(incoming->source, incoming->body);
    } else if (incoming->tag == wire::tag_rejected) {
      on_rejected(incoming->source, incoming->body);
    } else if (incoming->tag == wire::tag_lane) {
      on_lane_offer(static_cast<std::size_t>(incoming->source), incoming->body);
    } else if (incoming->tag == wire::tag_heartbeat) {
      // The link noted when it arrived; that is all a heartbeat says.
    } else if (!serve_slots(*incoming)) {
      std::fprintf(stderr, "mpipool: warning: unexpected message (tag %d) from worker %d ignored\n", incoming->tag,
                   incoming->source);
    }
    link_.recycle(std::move(incoming->body));
  }
  return any;
}

void manager::on_results(int worker, const byte_buffer& body) {
  try {
    byte_reader reader(body.view());
    const auto count = reader.get<std::uint32_t>();
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto chunk_id = reader.get<std::uint64_t>();
      const auto item = reader.get<std::uint32_t>();
      const auto status = static_cast<wire::item_status>(reader.get<std::uint8_t>());
      take_result(chunk_id, item, status, reader.get_blob());
    }
    adapt_window(worker_states_[static_cast<std::size_t>(worker)]);
  } catch (const serialization_error& e) {
    fail_unreadable_results(worker, e);
  }
}

void manager::take_result(std::uint64_t chunk_id, std::uint32_t item, wire::item_status status,
                          std::span<const std::byte> payload) {
  auto found = chunks_.find(chunk_id);
  if (found == chunks_.end() || item >= found->second.count) return;  // late duplicate or stale
  if (status == wire::item_status::ok_run) {
    settle_run(chunk_id, found->second, item, payload);
  } else {
    settle(chunk_id, found->second, item, status, payload);
  }
}

void manager::fail_unreadable_results(int worker, const serialization_error& error) {
  // Which items the unreadable rest held is unknown: fail what this worker still owes.
  const auto failure = std::make_exception_ptr(
      serialization_error("worker " + identities_[static_cast<std::size_t>(worker)].describe() +
                          " sent a results message that cannot be read (" + error.what() + ")"));
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    auto current = it++;
    if (current->second.worker == worker) fail_chunk(current->first, current->second, failure);
  }
}

void manager::on_rejected(int worker, const byte_buffer& body) {
  std::uint64_t message_id = 0;
  std::vector<std::uint64_t> accepted;
  std::string reason = "unreadable";
  try {
    byte_reader in(body.view());
    message_id = in.get<std::uint64_t>();
    const auto count = in.get<std::uint32_t>();
    for (std::uint32_t i = 0; i < count; ++i) accepted.push_back(in.get<std::uint64_t>());
    reason = wire::get_string(in);
  } catch (const serialization_error&) {
    message_id = 0;  // not even the rejection is readable: fail all this worker owes
  }
  const auto failure = std::make_exception_ptr(serialization_error(
      "worker rank " + std::to_string(identities_[static_cast<std::size_t>(worker)].rank) +
      " could not read a tasks message: " + reason));
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    auto current = it++;
    const auto& chunk = current->second;
    if (chunk.worker != worker || (message_id != 0 && chunk.message != message_id)) continue;
    if (std::find(accepted.begin(), accepted.end(), current->first) != accepted.end()) continue;
    fail_chunk(current->first, current->second, failure);
  }
}

bool manager::find_lost_workers() {
  // Cheap enough for every round, but no need: look every 256 rounds, at most every 100 ms.
  if (chunks_.empty() || (++rounds_ & 255U) != 0) return false;
  const auto now = clock::now();
  if (now < next_liveness_check_) return false;
  next_liveness_check_ = now + std::chrono::milliseconds(100);
  bool lost_any = false;
  for (std::size_t w = 0; w < worker_count_; ++w) {
    auto& state = worker_states_[w];
    // Only a worker that owes us results matters; an idle one is checked when it gets work.
    if (!state.alive || state.in_flight == 0) continue;
    const auto silent = now - link_.last_heard(static_cast<int>(w));
    if (silent <= peer_timeout_) continue;
    lose_worker(w, std::chrono::duration_cast<std::chrono::milliseconds>(silent));
    lost_any = true;
  }
  return lost_any;
}

void manager::lose_worker(std::size_t w, std::chrono::milliseconds silent) {
  worker_states_[w].alive = false;
  drop_lane(w);
  link_.mark_broken();  // a disconnect would wait for it for ever
  const origin& where = identities_[w];
  byte_buffer record;
  write_lost(record,
             "worker process silent for " + std::to_string(silent.count() / 1000.0).substr(0, 4) +
                 " s (killed, or its node is unreachable)",
             where, 0, -1);
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    auto current = it++;
    if (current->second.worker != static_cast<int>(w)) continue;
    for (std::uint32_t item = 0; item < current->second.count; ++item) {
      auto found = chunks_.find(current->first);
      if (found == chunks_.end()) break;
      settle(current->first, found->second, item, wire::item_status::lost, record.view());
    }
  }
  for (const auto& grant : grants_[w]) return_slots(grant);  // its sub-pools died with it
  grants_[w].clear();
  std::fprintf(stderr, "mpipool: warning: lost %s: its tasks were retried or failed with worker_lost\n",
               where.describe().c_str());
  const bool anyone_left =
      std::any_of(worker_states_.begin(), worker_states_.end(), [](const worker_record& s) { return s.alive; });
  if (!anyone_left) {
    abandon_all(std::make_exception_ptr(worker_lost("every worker of the pool is lost", where, 0, -1)));
  }
}

void manager::fail_chunk(std::uint64_t chunk_id, chunk_record& chunk, const std::exception_ptr& failure) {
  byte_buffer record;
  write_relayed(record, failure);
  for (std::uint32_t item = 0; item < chunk.count; ++item) {
    auto found = chunks_.find(chunk_id);
    if (found == chunks_.end()) return;  // the last item finished the chunk
    settle(chunk_id, found->second, item, wire::item_status::failed, record.view());
  }
}

bool manager::serve_slots(message& incoming) {
  auto& held = grants_[static_cast<std::size_t>(incoming.source)];
  if (incoming.tag == wire::tag_slot_request) {
    slot_grant granted;
    bool ok = false;
    link_.send(incoming.source, wire::tag_slot_reply, answer_slot_request(incoming.body.view(), granted, ok));
    if (ok) held.push_back(granted);
    return true;
  }
  if (incoming.tag == wire::tag_slot_return) {
    byte_reader in(incoming.body.view());
    const slot_grant returned = get_grant(in);
    return_slots(returned);
    for (auto it = held.begin(); it != held.end(); ++it) {
      if (it->places.size() == returned.places.size() && it->describe() == returned.describe()) {
        held.erase(it);
        break;
      }
    }
    return true;
  }
  return false;
}

void manager::settle(std::uint64_t chunk_id, chunk_record& chunk, std::uint32_t item, wire::item_status status,
                     std::span<const std::byte> payload) {
  if (chunk.settled.test(item)) return;  // exactly once: a late duplicate changes nothing
  chunk.settled.set(item);
  --chunk.unsettled;
  const auto owner = chunk.owner;
  job_record& record = *owner;
  const auto& settings = record.work->settings();
  const std::uint64_t index = chunk.first_index + item;
  if (status == wire::item_status::lost && chunk.attempt < settings.retries) {
    retry_item(chunk, item);
  } else {
    if (status == wire::item_status::ok) {
      record.work->deliver(index, payload);
    } else {
      record.work->deliver_error(index, read_error(payload));
    }
    ++record.settled;
  }
  if (chunk.unsettled == 0) chunk_finished(chunk_id, chunk);
  job_progressed(owner);
}

void manager::settle_run(std::uint64_t chunk_id, chunk_record& chunk, std::uint32_t first,
                         std::span<const std::byte> payload) {
  byte_reader in(payload);
  const auto count = in.get<std::uint32_t>();
  const auto results = in.take(in.remaining());
  if (count == 0 || count > chunk.count - first || results.size() % count != 0) {
    throw serialization_error("a run of " + std::to_string(count) + " results (" + std::to_string(results.size()) +
                              " bytes) from item " + std::to_string(first) + " does not fit a chunk of " +
                              std::to_string(chunk.count) + " items");
  }
  const std::size_t size = results.size() / count;
  if (!chunk.settled.none_in(first, count)) {
    // Some were settled already (a retry raced its original): settle the rest one by one.
    for (std::uint32_t i = 0; i < count; ++i) {
      if (chunk.settled.test(first + i)) continue;
      const bool last = chunk.unsettled == 1;  // settling it erases the chunk
      settle(chunk_id, chunk, first + i, wire::item_status::ok, results.subspan(i * size, size));
      if (last) return;
    }
    return;
  }
  chunk.settled.set_range(first, count);
  chunk.unsettled -= count;
  const auto owner = chunk.owner;
  owner->work->deliver_run(chunk.first_index + first, count, size, results);
  owner->settled += count;
  if (chunk.unsettled == 0) chunk_finished(chunk_id, chunk);
  job_progressed(owner);
}

void manager::retry_item(chunk_record& chunk, std::uint32_t item) {
  chunk_record again;
  again.owner = chunk.owner;
  again.first_index = chunk.first_index + item;
  again.count = 1;
  again.unsettled = 1;
  const auto bytes = chunk_items(chunk.item_view(), chunk.item_size).slice(item, item + 1);
  again.items = std::make_shared<byte_buffer>(encoded_chunk::header_room);
  again.items->append(bytes.data(), bytes.size());
  again.item_size = chunk.item_size;
  again.settled.reset(1);
  again.attempt = chunk.attempt + 1;
  again.avoid_worker = chunk.worker;
  const auto id = next_chunk_id_++;
  add_chunk(id, std::move(again));
  retries_.push_back(id);
}

void manager::chunk_finished(std::uint64_t chunk_id, chunk_record& chunk) {
  if (chunk.worker >= 0) {
    auto& state = worker_states_[static_cast<std::size_t>(chunk.worker)];
    --state.in_flight;
    ++state.finished_unmeasured;
  }
  auto node = chunks_.extract(chunk_id);
  spare_items_.give_back(std::move(node.mapped().items));
  node.mapped() = chunk_record{};  // lets go of the rest now
  if (spare_chunk_nodes_.size() < max_spare_chunk_nodes) spare_chunk_nodes_.push_back(std::move(node));
}

void manager::add_chunk(std::uint64_t chunk_id, chunk_record chunk) {
  if (spare_chunk_nodes_.empty()) {
    chunks_.emplace(chunk_id, std::move(chunk));
    return;
  }
  auto node = std::move(spare_chunk_nodes_.back());
  spare_chunk_nodes_.pop_back();
  node.key() = chunk_id;
  node.mapped() = std::move(chunk);
  chunks_.insert(std::move(node));
}

namespace {
double completions_per_us(double mean_gap_us) { return mean_gap_us > 0 ? 1.0 / std::max(mean_gap_us, 1.0) : 0.0; }
}  // namespace

void manager::adapt_window(worker_record& worker) {
  if (worker.finished_unmeasured == 0) return;
  const auto finished = std::exchange(worker.finished_unmeasured, 0);
  const auto now = clock::now();
  const double gap_before = worker.mean_gap_us;
  if (worker.last_completion != clock::time_point{}) {
    // Chunks reported in one message share the time since the last one; counted
    // as gaps of zero, they would open the window of a worker that batched results.
    const double gap = std::chrono::duration<double, std::micro>(now - worker.last_completion).count() /
                       static_cast<double>(finished);
    worker.mean_gap_us = worker.mean_gap_us == 0 ? gap : 0.8 * worker.mean_gap_us + 0.2 * gap;
  }
  worker.last_completion = now;
  if (gap_before != worker.mean_gap_us) {
    completions_per_us_ += completions_per_us(worker.mean_gap_us) - completions_per_us(gap_before);
    const double interval_us = completions_per_us_ > 0 ? 1.0 / completions_per_us_ : max_nap_us;
    busy_nap_cap_us_.store(std::clamp<std::int64_t>(static_cast<std::int64_t>(interval_us / 32), 10, max_nap_us),
                           std::memory_order_relaxed);
  }
  if (fixed_window_ != 0) return;
  // The window at most doubles per report. Opened to 256 at the first report, which
  // has no estimate yet, it let one worker queue an eighth of a run of 2 ms tasks
  // (measured: 2.1x the ideal time on 15 workers).
  const double wanted = worker.mean_gap_us == 0 ? 2.0 * static_cast<double>(worker.window)
                                                 : queued_work_target_us / std::max(worker.mean_gap_us, 1.0);
  const auto grown = std::min(static_cast<std::size_t>(std::ceil(wanted)), 2 * worker.window);
  worker.window = std::clamp(grown, min_window, max_window);
}

void manager::job_progressed(job_iterator record) {
  if (record->feeding || record->settled != record->issued) return;
  record->work->finish();
  record->work.reset();
  erase_reusing(jobs_, spare_jobs_, record);
  job_finished_ = true;
  std::lock_guard lock(mutex_);
  --unfinished_jobs_;
  done_cv_.notify_all();
}

void manager::abandon_all(const std::exception_ptr& error) {
  for (auto& record : jobs_) record.work->abandon(error);
  const std::size_t abandoned = jobs_.size();
  jobs_.clear();
  feeding_.clear();
  chunks_.clear();
  retries_.clear();
  for (auto& state : worker_states_) state.in_flight = 0;
  std::lock_guard lock(mutex_);
  unfinished_jobs_ -= std::min(unfinished_jobs_, abandoned);
  done_cv_.notify_all();
}

}  // namespace mpipool::detail
