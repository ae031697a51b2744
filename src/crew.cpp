#include "crew.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "backoff.hpp"
#include "context.hpp"
#include "slots.hpp"
#include "spawn.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {

std::mutex warm_mutex;
std::vector<std::unique_ptr<crew>> warm;

std::chrono::seconds warm_lifetime() {
  const char* text = std::getenv("MPIPOOL_WARM_SECONDS");
  return std::chrono::seconds(text != nullptr ? std::atol(text) : 30);
}

std::vector<std::unique_ptr<crew>> take_all_warm() {
  std::lock_guard lock(warm_mutex);
  return std::exchange(warm, {});
}

}  // namespace

std::unique_ptr<crew> start_crew(std::uint32_t workers, const spawn_options& where) {
  // Fail at once, before reserving anything, under a launcher that cannot spawn.
  if (const auto blocker = spawn_blocker(read_environment()); !blocker.empty()) {
    throw spawn_error("cannot start a dynamic pool: " + blocker);
  }
  auto& ctx = context::current();
  auto fresh = std::make_unique<crew>();
  fresh->hosts = where.hosts;
  fresh->lent_own_slot = where.lend_parent_slot && ctx.borrow_own_slot();
  slot_request request;
  request.count = workers;
  request.soft = where.soft;
  request.oversubscribe = where.oversubscribe;
  request.near = ctx.identity().host;
  request.lend = fresh->lent_own_slot ? ctx.identity().host : std::string();
  request.hosts = where.hosts;
  try {
    try {
      fresh->grant = request_slots(request);
    } catch (const spawn_error&) {
      if (!stop_warm_crews()) throw;
      fresh->grant = request_slots(request);  // our own parked crews held the slots
    }
    try {
      fresh->workers = spawn_workers(fresh->grant);
    } catch (...) {
      return_slots(fresh->grant);
      throw;
    }
    ctx.heartbeats().watch_downlink(*fresh->workers);
  } catch (...) {
    if (fresh->lent_own_slot) ctx.return_own_slot();
    throw;
  }
  return fresh;
}

std::unique_ptr<crew> take_warm_crew(std::uint32_t workers, const std::vector<std::string>& hosts) {
  std::lock_guard lock(warm_mutex);
  for (auto it = warm.begin(); it != warm.end(); ++it) {
    if ((*it)->grant.total() == workers && (*it)->hosts == hosts) {
      auto found = std::move(*it);
      warm.erase(it);
      return found;
    }
  }
  return nullptr;
}

void park_crew(std::unique_ptr<crew> idle) {
  idle->parked_at = std::chrono::steady_clock::now();
  std::lock_guard lock(warm_mutex);
  warm.push_back(std::move(idle));
}

void stop_crew(crew& done) {
  if (done.workers) {
    for (int w = 0; w < done.workers->remote_size(); ++w) done.workers->send(w, wire::tag_stop, byte_buffer());
    context::current().heartbeats().forget_downlink(*done.workers);
    backoff idle;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (done.workers->sends_pending() && std::chrono::steady_clock::now() < give_up) {
      if (!done.workers->progress_sends()) idle.pause();
    }
    done.workers.reset();  // MPI_Comm_disconnect: returns once the workers have left
    return_slots(done.grant);
  }
  if (done.lent_own_slot) {
    context::current().return_own_slot();
    done.lent_own_slot = false;
  }
}

void expire_warm_crews() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<crew>> expired;
  {
    std::lock_guard lock(warm_mutex);
    for (auto it = warm.begin(); it != warm.end();) {
      if (now - (*it)->parked_at >= warm_lifetime()) {
        expired.push_back(std::move(*it));
        it = warm.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : expired) stop_crew(*c);
}

bool stop_warm_crews() {
  auto all = take_all_warm();
  for (auto& c : all) stop_crew(*c);
  return !all.empty();
}

crew_session::~crew_session() {
  if (!crew_) return;
  try {
    stop_crew(*crew_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpipool: warning: stopping a sub-pool's workers failed: %s\n", e.what());
  }
}

void crew_session::session_ended(bool clean) {
  if (clean && reuse_) {
    park_crew(std::move(crew_));
    return;
  }
  auto done = std::move(crew_);
  stop_crew(*done);
}

}  // namespace mpipool::detail
