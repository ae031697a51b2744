#include "task_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "chunk_items.hpp"
#include "cpu_affinity.hpp"
#include "error_record.hpp"
#include "mpipool/task.hpp"
#include "packed_run.hpp"
#include "pages.hpp"
#include "proxy_executor.hpp"
#include "runner.hpp"
#include "shared_arena.hpp"

namespace mpipool::detail {

namespace {

task_process* the_task_process = nullptr;

// Results are sent in batches; a result waits at most this long for company.
constexpr auto max_result_delay = std::chrono::microseconds(100);
constexpr std::size_t max_result_bytes = std::size_t{1} << 20;
// Batches of results lent to the rank (results_shared) and not yet released.
constexpr std::size_t max_lent_batches = 8;
// How long a task process on its rank's only core spins for the next chunk from the
// lane: its rank sleeps meanwhile, so it holds nobody up (see pump).
constexpr auto lane_spin = std::chrono::microseconds(200);

/// How long an idle task process spins for the next task before it sleeps.
/// Spinning saves the futex wake-up only if the rank has a core of its own: when the
/// node has fewer cores than ranks and task processes, a spinning task process takes
/// the core its rank needs to forward that task (measured on 2 cores: a round trip of
/// 60 us with a 50 us spin, 22 us without). A task process on its rank's only core
/// yields that core instead (shared_core_spin), and a stream of chunks earns a short
/// spin on a crowded node (task_process::wait_before_sleep). MPIPOOL_TASK_SPIN_US
/// overrides the first two (0: sleep at once); the stream's spin stays.
std::chrono::microseconds idle_spin(bool shares_rank_core) {
  if (const char* text = std::getenv("MPIPOOL_TASK_SPIN_US")) return std::chrono::microseconds(std::atol(text));
  if (shares_rank_core) return shared_core_spin;
  return std::chrono::microseconds(task_process_has_own_core() ? 200 : 0);
}

/// Open MPI's handlers print backtraces and talk to the runtime; a task process
/// must die of its signals plainly, so its rank sees exactly what killed it.
void reset_signals() {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGPIPE,
                  SIGUSR1, SIGUSR2, SIGALRM}) {
    std::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

/// Closes every descriptor but stdio and our pipes: MPI's sockets stay the rank's alone.
void close_inherited_descriptors(int keep_a, int keep_b) {
  std::vector<int> open;
  if (DIR* fds = ::opendir("/proc/self/fd")) {
    while (dirent* entry = ::readdir(fds)) {
      const int fd = std::atoi(entry->d_name);
      if (fd > 2 && fd != keep_a && fd != keep_b && fd != ::dirfd(fds)) open.push_back(fd);
    }
    ::closedir(fds);
  }
  for (int fd : open) ::close(fd);
}

/// Allows `extra` bytes of address space beyond what the process (MPI's mappings included) has now.
void limit_memory(std::size_t extra) {
  std::size_t pages = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%zu", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  const auto limit = static_cast<rlim_t>(pages * page_bytes() + extra);
  const rlimit bound{limit, limit};
  ::setrlimit(RLIMIT_AS, &bound);
}

}  // namespace

bool in_task_process() { return the_task_process != nullptr; }

task_process_handle fork_task_process(const wire::session_init& init, const origin& identity, bool with_lane) {
  // Rings big enough that a batch of small tasks and their results rarely wait for
  // room, and small enough that touching every page at the fork stays cheap (map_in:
  // 6 ms a process for both on the 2-core VM, 24 ms with 4 MiB rings). Bigger chunks
  // stream through in pieces.
  constexpr std::size_t ring_bytes = std::size_t{1} << 20;
  task_process_handle handle;
  handle.to_child = std::make_unique<shm_ring>(ring_bytes);
  handle.from_child = std::make_unique<shm_ring>(ring_bytes);
  handle.to_child->map_in();
  handle.from_child->map_in();
  handle.board = map_shared_board();
  if (with_lane) {
    try {
      handle.lane = task_lane::create();
    } catch (const std::exception&) {
      // Out of descriptors or memory: its chunks go through the rank, as without a lane.
    }
  }
  int alive[2];
  if (::pipe2(alive, O_CLOEXEC) != 0) {
    throw error(std::string("cannot create a pipe for a task process: ") + std::strerror(errno));
  }
  std::fflush(nullptr);  // or the child would print the rank's buffered output again
  const pid_t rank = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw error(std::string("cannot fork a task process: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the rank
    if (::getppid() != rank) ::_exit(1);
    reset_signals();
    // A task that calls exit() must not run the rank's exit handlers and static
    // destructors (MPI_Finalize among them): registered last, this one runs first.
    ::on_exit(
        [](int status, void*) {
          std::fflush(nullptr);
          ::_exit(status);
        },
        nullptr);
    ::close(alive[0]);
    close_inherited_descriptors(alive[1], alive[1]);  // its write end stays open until it dies
    // Under a memory limit its large buffers must count against it: the arena was
    // mapped before the limit, so they come from the heap, as its results through the ring.
    large_blocks::leave_shared_arena(init.task_memory_limit == 0);
    handle.to_child->map_in();  // a fork leaves shared pages to fault again
    handle.from_child->map_in();
    if (init.task_memory_limit > 0) limit_memory(init.task_memory_limit);
    origin self = identity;
    self.pid = static_cast<long>(::getpid());
    try {
      auto* process = new task_process(*handle.to_child, *handle.from_child, handle.lane, handle.board, init, self);
      process->run();
    } catch (const std::exception& e) {
      // Unwinding further would run the rank's own code in this copy of it.
      std::fprintf(stderr, "mpipool: task process %ld failed: %s\n", self.pid, e.what());
    } catch (...) {
      std::fprintf(stderr, "mpipool: task process %ld failed\n", self.pid);
    }
    std::fflush(nullptr);
    ::_exit(70);
  }
  ::close(alive[1]);
  // The task process waits on the lane's ring when it has one: what the rank writes wakes it there too.
  if (handle.lane.to_task) handle.to_child->also_wake(handle.lane.to_task.get());
  handle.pid = pid;
  handle.alive = alive[0];
  return handle;
}

task_process::task_process(shm_ring& from_rank, shm_ring& to_rank, const task_lane& lane, progress_board* board,
                           const wire::session_init& init, origin identity)
    : from_rank_(from_rank),
      to_rank_(to_rank),
      board_(board),
      init_(init),
      identity_(std::move(identity)),
      lane_in_(lane.to_task.get()),
      lane_out_(lane.from_task.get()),
      shares_rank_core_(cpus_in_affinity() == 1),
      idle_spin_(idle_spin(shares_rank_core_)) {
  the_task_process = this;
}

task_process::input_wait task_process::wait_before_sleep(int chunks_run, bool shares_rank_core,
                                                         std::chrono::microseconds idle_spin) {
  constexpr auto stream_spin = std::chrono::microseconds(20);
  constexpr int stream_chunks = 4;
  if (shares_rank_core) return {idle_spin, spin_style::yield_only};
  if (chunks_run < stream_chunks) return {idle_spin, spin_style::pause_first};
  return {std::max(idle_spin, stream_spin), spin_style::pause_first};
}

task_process& task_process::current() {
  if (the_task_process == nullptr) throw error("not a task process");
  return *the_task_process;
}

void task_process::send(const byte_buffer& frames) { write_all(to_rank_, frames.view()); }

void task_process::leave(int status) {
  flush_results();
  flush_lane_results();
  to_rank_.close();
  std::fflush(nullptr);
  ::_exit(status);
}

void task_process::run() {
  byte_buffer done;
  const auto start = begin_frame(done, frame_kind::init_done);
  const cpu_set_t inherited = affinity();  // the rank's, as the fork left it
  if (init_.initializer) {
    try {
      byte_buffer ignored;
      registry::instance().entry(init_.initializer->task).invoke(init_.initializer->args.view(), ignored);
    } catch (...) {
      origin here = identity_;
      here.task = "(pool initializer)";
      write_error(init_failure_, std::current_exception(), here);
    }
  }
  // An initializer may have bound this process elsewhere (an OpenMP runtime, the
  // user's own sched_setaffinity): it shares its rank's core only if it stayed there.
  const cpu_set_t now = affinity();
  shares_rank_core_ = shares_rank_core_ && CPU_EQUAL(&now, &inherited);
  idle_spin_ = idle_spin(shares_rank_core_);
  done.put<std::uint8_t>(init_failure_.empty() ? 1 : 0);
  done.append(init_failure_.data(), init_failure_.size());
  end_frame(done, start);
  send(done);

  for (;;) {
    if (chunks_.empty()) {
      flush_results();
      flush_lane_results();
      if (flush_asked_ && (lane_in_ == nullptr || lane_in_->readable() == 0)) answer_flush();
      pump(std::chrono::microseconds::max());
      continue;
    }
    frame chunk = std::move(chunks_.front());
    chunks_.pop_front();
    run_chunk(chunk);
    ++chunks_since_wait_;
    pump(std::chrono::microseconds(0));  // pick up what else is waiting, to batch results
  }
}

void task_process::pump(std::chrono::microseconds timeout) {
  const bool lane_empty = lane_in_ == nullptr || lane_in_->readable() == 0;
  if (from_rank_.readable() == 0 && !from_rank_.at_end() && lane_empty && timeout.count() > 0) {
    auto wait = wait_before_sleep(chunks_since_wait_, shares_rank_core_, idle_spin_);
    if (lane_in_ != nullptr && last_chunk_from_lane_ && shares_rank_core_) {
      // Work through the lane leaves the rank asleep: its core is ours until it wakes,
      // and a yield hands it over then. Sleeping at once would cost the master's wake-up.
      wait = {std::max(wait.spin, lane_spin), spin_style::pause_first};
    }
    const auto limit = std::min<std::chrono::microseconds>(timeout, std::chrono::hours(1));
    if (lane_in_ != nullptr) {
      lane_in_->wait_readable(limit, wait.spin, wait.style, &from_rank_);  // the rank's writes wake it there
    } else {
      from_rank_.wait_readable(limit, wait.spin, wait.style);
    }
    chunks_since_wait_ = 0;
  }
  const bool open = reader_.fill(from_rank_);
  while (auto incoming = reader_.next()) dispatch(frame::copy_of(*incoming));  // kept: a task may pump again
  if (lane_in_ != nullptr) take_lane_chunks();
  if (!open) leave(0);  // the rank closed our input: recycle, session end, or the rank is gone
}

void task_process::take_lane_chunks() {
  const std::size_t available = lane_in_->readable();
  if (available == 0) return;
  lane_taken_.resize(available);
  lane_taken_.resize(lane_in_->peek({lane_taken_.data(), available}));
  auto unread = lane_taken_.view();
  lane_notes_.clear();
  std::size_t taken = 0;
  while (auto chunk = cut_frame(unread)) {
    taken = lane_taken_.size() - unread.size();
    if (chunk->kind != frame_kind::chunk) continue;  // the master writes nothing else
    const auto start = begin_frame(lane_notes_, frame_kind::lane_chunk);
    lane_notes_.append(chunk->body.data(), chunk->body.size());
    end_frame(lane_notes_, start);
    chunks_.push_back(frame::copy_of({frame_kind::lane_chunk, chunk->body}));
  }
  // The rank holds the copies before the lane lets go of the chunks: a crash now
  // leaves each chunk with the rank, in the lane, or both (the rank keeps one).
  write_all(to_rank_, lane_notes_.view(), false);
  lane_in_->skip(taken);
}

void task_process::dispatch(frame incoming) {
  if (incoming.kind == frame_kind::chunk || incoming.kind == frame_kind::chunk_shared) {
    chunks_.push_back(std::move(incoming));
    return;
  }
  if (incoming.kind == frame_kind::flush_request) {
    // Answered by the main loop once idle: every chunk taken before has run by then
    // and its results are out, and no task is halfway through a result (a nested pump).
    flush_asked_ = true;
    return;
  }
  byte_reader in(incoming.body.view());
  if (incoming.kind == frame_kind::results_release) {
    lent_.erase(in.get<std::uint64_t>());  // its block goes back to large_blocks, for the next results
    return;
  }
  const auto id = in.get<std::uint32_t>();
  if (auto found = proxies_.find(id); found != proxies_.end()) found->second->on_frame(incoming);
}

std::uint32_t task_process::add_proxy(proxy_executor* proxy) {
  const auto id = next_proxy_++;
  proxies_[id] = proxy;
  return id;
}

void task_process::remove_proxy(std::uint32_t id) { proxies_.erase(id); }

class task_process::frame_sink {
 public:
  frame_sink(task_process& self, std::uint64_t chunk_id) : self_(self), chunk_id_(chunk_id) {}

  void reserve(std::size_t bytes) { self_.out_->reserve(self_.out_->size() + bytes); }
  std::byte* open_run(std::uint32_t item, std::size_t max_bytes) {
    start_ = self_.begin_result(chunk_id_, item);
    first_ = item;
    auto& out = *self_.out_;
    out.put(static_cast<std::uint8_t>(wire::item_status::ok_run));
    payload_at_ = out.size();
    out.resize(payload_at_ + max_bytes);
    return out.data() + payload_at_;
  }
  void close_run(std::uint32_t count, std::size_t bytes) {
    if (count == 0) {
      self_.out_->resize(start_);
      return;
    }
    self_.out_->resize(payload_at_ + bytes);
    self_.end_result(start_, chunk_id_, first_ + count - 1);
  }
  void failed(std::uint32_t item, std::span<const std::byte> record) {
    const auto start = self_.begin_result(chunk_id_, item);
    self_.out_->put(static_cast<std::uint8_t>(wire::item_status::failed));
    self_.out_->append(record.data(), record.size());
    self_.end_result(start, chunk_id_, item);
  }

 private:
  task_process& self_;
  std::uint64_t chunk_id_;
  std::uint32_t first_ = 0;     // the open run's first item
  std::size_t start_ = 0;       // the open run's frame
  std::size_t payload_at_ = 0;  // its payload
};

void task_process::run_chunk(const frame& chunk) {
  byte_reader in(chunk.body.view());
  const auto head = get_chunk_head(in);
  const auto chunk_id = head.header.id;
  const auto task = head.header.task;
  const auto first = head.first;
  const auto count = head.header.count;
  const auto timeout_ms = head.header.timeout_ms;
  const auto item_size = head.header.item_size;
  const auto items = chunk.kind == frame_kind::chunk_shared ? shared_items(in) : in.take(in.remaining());
  const task_entry* entry = registry::instance().find(task);
  last_chunk_from_lane_ = chunk.kind == frame_kind::lane_chunk;
  out_ = last_chunk_from_lane_ ? &lane_results_ : &results_;
  // A timeout is measured per item from the board's start time: those run one by one.
  if (init_failure_.empty() && timeout_ms == 0 && runs_packed(entry, item_size, items, count)) {
    board_->start(chunk_id, first);
    frame_sink sink{*this, chunk_id};
    run_packed(*entry, items, item_size, first, count, item_tracking::every_block, board_->item, identity_, sink);
    board_->finish(count);
    return;
  }
  item_cursor cursor(items, item_size);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto& out = *out_;
    const auto start = begin_result(chunk_id, first + i);
    const std::size_t status_at = out.size();
    out.put<std::uint8_t>(0);
    const std::size_t payload_at = out.size();
    board_->start(chunk_id, first + i);
    wire::item_status status = wire::item_status::failed;
    if (!init_failure_.empty()) {
      out.append(init_failure_.data(), init_failure_.size());
    } else {
      try {
        status = run_item(task, cursor.next(), out, payload_at, identity_);
      } catch (...) {  // a malformed chunk fails its items
        write_error(out, std::current_exception(), identity_);
      }
    }
    board_->finish(1);
    out.put_at(status_at, static_cast<std::uint8_t>(status));
    end_result(start, chunk_id, first + i);
  }
}

std::span<const std::byte> task_process::shared_items(byte_reader& in) {
  const auto offset = in.get<std::uint64_t>();
  const auto size = in.get<std::uint64_t>();
  // Out of the arena (a corrupt frame): no items, so each item fails as malformed.
  return shared_arena::of_rank().bytes_at(offset, size).value_or(std::span<const std::byte>{});
}

std::size_t task_process::begin_result(std::uint64_t chunk_id, std::uint32_t item) {
  if (results_.empty() && lane_results_.empty()) results_since_ = std::chrono::steady_clock::now();
  const auto start = begin_frame(*out_, frame_kind::item_result);
  out_->put(chunk_id);
  out_->put(item);
  return start;
}

void task_process::end_result(std::size_t start, std::uint64_t chunk_id, std::uint32_t last_item) {
  end_frame(*out_, start);
  if (out_ == &lane_results_) {
    if (!lane_done_.empty() && lane_done_.back().first == chunk_id) {
      lane_done_.back().second = last_item;
    } else {
      lane_done_.emplace_back(chunk_id, last_item);
    }
  }
  flush_if_due();
}

void task_process::flush_if_due() {
  if (std::chrono::steady_clock::now() - results_since_ > max_result_delay ||
      results_.size() + lane_results_.size() > max_result_bytes) {
    flush_results();
    flush_lane_results();
  }
}

void task_process::answer_flush() {
  flush_asked_ = false;
  send(empty_frame(frame_kind::flushed));
}

void task_process::flush_lane_results() {
  if (lane_results_.empty()) return;
  std::fflush(stdout);
  // Meanwhile the board names no item (a typed loop flushes between its blocks): killed
  // between the results and the note, this process leaves those items to run again,
  // and no item is blamed for a death that was not its own.
  const auto running = board_->running.exchange(0, std::memory_order_acq_rel);
  write_all(*lane_out_, lane_results_.view());
  lane_results_.clear();
  lane_notes_.clear();
  const auto start = begin_frame(lane_notes_, frame_kind::lane_done);
  lane_notes_.put<std::uint32_t>(static_cast<std::uint32_t>(lane_done_.size()));
  for (const auto& [chunk, last_item] : lane_done_) {
    lane_notes_.put(chunk);
    lane_notes_.put(last_item);
  }
  end_frame(lane_notes_, start);
  lane_done_.clear();
  write_all(to_rank_, lane_notes_.view(), false);
  board_->running.store(running, std::memory_order_release);
}

void task_process::flush_results() {
  if (results_.empty()) return;
  std::fflush(stdout);
  const auto& own = shared_arena::of_task_process();
  if (results_.size() >= large_blocks::threshold && own.contains(results_.view())) {
    // Lent to the rank, which reads them in place and releases them (results_release).
    // A few at a time: like a full ring, a rank that does not read holds us back.
    while (lent_.size() >= max_lent_batches && !from_rank_.at_end()) pump(std::chrono::milliseconds(10));
    const auto offset = own.offset_of(results_.data());
    byte_buffer note;
    const auto start = begin_frame(note, frame_kind::results_shared);
    note.put<std::uint64_t>(offset);
    note.put<std::uint64_t>(results_.size());
    end_frame(note, start);
    write_all(to_rank_, note.view());
    const auto capacity = results_.capacity();
    lent_.emplace(offset, std::move(results_));
    results_ = byte_buffer();
    try {
      results_.reserve(capacity);  // a block the rank released, or a fresh one
    } catch (const std::bad_alloc&) {
      // The next results grow a buffer as they come, and an item that finds no memory fails alone.
    }
    return;
  }
  write_all(to_rank_, results_.view());
  results_.clear();
}

}  // namespace mpipool::detail
