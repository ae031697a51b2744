#include "worker.hpp"

#include <thread>

#include "backoff.hpp"
#include "context.hpp"
#include "crew.hpp"
#include "slots.hpp"
#include "timer_slack.hpp"
#include "error_record.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/task.hpp"

namespace mpipool::detail {

namespace {

// Results are batched only while tasks are tiny; a result is held back at most this long.
constexpr auto batch_while_chunks_take_less_than = std::chrono::microseconds(20);
constexpr auto max_batch_age = std::chrono::microseconds(100);
constexpr auto probe_while_busy_every = std::chrono::microseconds(50);
constexpr std::size_t max_batch_bytes = std::size_t{1} << 20;

}  // namespace

worker::worker(link& master, origin identity) : master_(master), identity_(std::move(identity)) {}

void worker::serve() {
  set_fine_timer_slack();
  // Right after a pool ends, the next one (a warm reuse) often follows: poll
  // every 50 us for two seconds, then settle to 1 ms naps.
  backoff idle(std::chrono::microseconds(1000), std::chrono::microseconds(50), std::chrono::seconds(2));
  auto next_expiry_check = std::chrono::steady_clock::now();
  for (;;) {
    master_.progress_sends();
    auto incoming = master_.receive();
    if (!incoming) {
      if (std::chrono::steady_clock::now() >= next_expiry_check) {
        expire_warm_crews();  // an idle worker should not hold warm sub-pools' slots for ever
        next_expiry_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      }
      idle.pause();
      continue;
    }
    idle.reset();
    switch (incoming->tag) {
      case wire::tag_init:
        if (start_session(*incoming) && serve_session() == session_end::stopped) return;
        break;
      case wire::tag_release:
        send_released();  // a session that failed to start still ends with "released"
        break;
      case wire::tag_stop:
        return;
      default:
        break;  // stale messages of a session that has ended
    }
  }
}

bool worker::start_session(const message& init_message) {
  wire::ready_reply reply;
  reply.fingerprint = registry::instance().fingerprint();
  reply.identity = identity_;
  try {
    byte_reader reader(init_message.body.view());
    const auto init = wire::decode_init(reader);
    identity_.depth = init.depth;
    identity_.workers = init.workers;
    context::current().set_depth(init.depth, init.max_depth);
    context::current().heartbeats().set_settings(
        {std::chrono::milliseconds(init.heartbeat_ms), std::chrono::milliseconds(init.peer_timeout_ms)});
    reply.identity = identity_;
    if (init.fingerprint != reply.fingerprint) {
      reply.ok = false;  // the master reports the mismatch
    } else {
      // Kept across sessions of one mode: an idle task process can serve the next pool.
      if (!runner_ || runner_->mode() != init.mode) {
        runner_ = init.mode == execution::supervised ? make_supervised_runner() : make_direct_runner();
      }
      runner_->begin_session(init, identity_);
    }
  } catch (...) {
    reply.ok = false;
    origin here = identity_;
    here.task = "(pool initializer)";
    write_error(reply.failure, std::current_exception(), here);
  }
  master_.send(0, wire::tag_ready, wire::encode(reply));
  if (reply.ok) offer_lane();
  return reply.ok;
}

void worker::offer_lane() {
  if (auto offer = runner_->take_lane_offer()) master_.send(0, wire::tag_lane, encode(*offer));
}

worker::session_end worker::serve_session() {
  // Within a session the next chunk is usually close behind: naps stay short for a
  // while, so a worker that ran dry notices new work at once (measured: 1 ms naps
  // starved workers for 12% of a run of 2 ms tasks); then they grow to 1 ms.
  backoff idle(std::chrono::microseconds(1000), std::chrono::microseconds(20), std::chrono::milliseconds(50));
  idle.stay_awake_while([this] { return master_.large_send_moving(); });  // large results move only while we poll

  auto last_step = std::chrono::steady_clock::duration::zero();
  std::chrono::steady_clock::time_point last_step_end, last_probe;  // a direct runner with chunks queued steps every round
  for (;;) {
    bool progressed = false;
    // While this rank runs queued chunks itself (direct mode), MPI is probed only now
    // and then: on an oversubscribed node Open MPI yields the core in every probe that
    // finds nothing (mpi_yield_when_idle), and a probe per chunk of no-op tasks gave the
    // core away 600,000 times a run. A supervised rank keeps probing: it only relays.
    const bool running_here = runner_->busy() && runner_->mode() == execution::direct;
    if (!running_here || last_step_end - last_probe >= probe_while_busy_every) {
      last_probe = last_step_end;
      // A worker with nothing queued answers what arrives before more can come (a
      // lone apply): the next receive is posted after the reply.
      const auto then = runner_->busy() || !results_.empty() ? link::next_receive::post_now
                                                              : link::next_receive::post_on_next_look;
      while (auto incoming = master_.receive(then)) {
        progressed = true;
        if (auto end = handle(*incoming)) return *end;
        if (incoming->tag == wire::tag_tasks) break;  // run them now; probe again after the step
      }
    }
    if (!results_.empty() && (!runner_->busy() || last_step > batch_while_chunks_take_less_than ||
                              results_.age() > max_batch_age || results_.bytes() > max_batch_bytes)) {
      flush();
    }
    // Timed only with work left after it: an idle round that reads the clock notices a
    // message later, and a lone chunk's results leave at once whatever it took.
    const bool timed = runner_->busy_after_next_step();
    const auto before = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (runner_->step(results_)) {
      progressed = true;
      offer_lane();  // a step may have replaced a task process that died
      if (timed) {
        last_step_end = std::chrono::steady_clock::now();
        last_step = last_step_end - before;
      }
      if (!runner_->busy()) flush();  // nothing else to batch with: answer now
    }
    progressed |= master_.progress_sends();
    if (progressed) {
      idle.reset();
    } else {
      runner_->idle_wait(idle);
    }
  }
}

std::optional<worker::session_end> worker::handle(message& incoming) {
  switch (incoming.tag) {
    case wire::tag_tasks:
      add_tasks(incoming);
      return std::nullopt;
    case wire::tag_release: {
      byte_reader reader(incoming.body.view());
      runner_->end_session(!reader.at_end() && reader.get<std::uint8_t>() != 0);
      flush();
      send_released();
      return session_end::released;
    }
    case wire::tag_stop:
      runner_->end_session(true);
      return session_end::stopped;
    case wire::tag_slot_reply:
      // A sub-pool opened for our task process waits for this reply on another thread.
      deliver_slot_reply(std::move(incoming.body));
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

void worker::add_tasks(message& incoming) {
  auto body = std::make_shared<const byte_buffer>(std::move(incoming.body));
  byte_reader reader(body->view());
  std::uint64_t message_id = 0;
  accepted_.clear();
  try {
    message_id = reader.get<std::uint64_t>();
    const auto chunks = reader.get<std::uint32_t>();
    for (std::uint32_t c = 0; c < chunks; ++c) {
      task_chunk chunk;
      chunk.header.id = reader.get<std::uint64_t>();
      chunk.header.task = reader.get<std::uint32_t>();
      chunk.header.count = reader.get<std::uint32_t>();
      chunk.header.timeout_ms = reader.get<std::int64_t>();
      chunk.header.item_size = reader.get<std::uint32_t>();
      chunk.message = body;
      accepted_.push_back(chunk.header.id);
      try {
        chunk.items = reader.get_blob();
      } catch (const serialization_error&) {
        runner_->add(std::move(chunk));  // no items: each fails alone with the parse error
        throw;
      }
      runner_->add(std::move(chunk));
    }
  } catch (const serialization_error& e) {
    // Tell the master, so the chunks it cannot get results for fail instead of hanging.
    byte_buffer rejection;
    rejection.put(message_id);
    rejection.put<std::uint32_t>(static_cast<std::uint32_t>(accepted_.size()));
    for (auto id : accepted_) rejection.put(id);
    wire::put_string(rejection, e.what());
    master_.send(0, wire::tag_rejected, std::move(rejection));
  }
}

void worker::flush() {
  if (results_.empty()) return;
  auto done = results_.take();
  if (!done.borrowed.empty()) {
    master_.send(0, wire::tag_results, std::move(done.body), std::move(done.borrowed));
    return;
  }
  master_.send_keeping(0, wire::tag_results, done.body);
  results_.reuse(std::move(done.body));
}

void worker::send_released() {
  master_.send(0, wire::tag_released, byte_buffer());
  // The master may stop or disconnect right after "released": let it leave first.
  backoff idle;
  idle.stay_awake_while([this] { return master_.large_send_moving(); });
  while (master_.sends_pending()) {
    if (!master_.progress_sends()) idle.pause();
  }
}

}  // namespace mpipool::detail
