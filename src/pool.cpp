#include "mpipool/pool.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "context.hpp"
#include "crew.hpp"
#include "manager.hpp"

namespace mpipool {

namespace detail {

std::size_t default_chunksize(std::size_t items, std::size_t workers) {
  const std::size_t slots = 4 * std::max<std::size_t>(workers, 1);
  return std::max<std::size_t>(1, (items + slots - 1) / slots);
}

int run_master(environment& env, const std::function<void(pool&)>& body, pool_options options) {
  try {
    pool workers(env, std::move(options));
    body(workers);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpipool: error: %s\n", e.what());
    return 1;
  }
}

namespace {

std::atomic<bool> static_pool_open{false};

/// The static workers belong to the environment; a pool only borrows them.
class static_session final : public session_owner {
 public:
  ~static_session() override { static_pool_open = false; }
  void session_ended(bool) override {}
};

void validate(const pool_options& options) {
  if (options.retries < 0) throw error("pool_options::retries must be >= 0");
  if (options.mode == execution::direct && options.timeout.count() > 0) {
    throw error("a per-task timeout needs execution::supervised: a direct worker cannot stop a running task");
  }
  if (options.mode == execution::direct && options.maxtasksperchild > 0) {
    throw error("maxtasksperchild needs execution::supervised: in direct mode the worker rank itself runs tasks");
  }
}

}  // namespace

}  // namespace detail

pool::pool(environment& /*env*/, pool_options options) : options_(std::move(options)) {
  auto& ctx = detail::context::current();
  if (ctx.role() != detail::process_role::master) {
    throw error("pool(env) opens the static workers and runs on rank 0 only; workers call env.serve() "
                "(write `if (env.is_worker()) return env.serve();` before creating the pool)");
  }
  if (ctx.static_link() == nullptr) {
    throw error("no workers: this job has only 1 rank. Start it with `mpirun -n 3 " +
                std::string("<program>`") + " for 2 workers, or spawn workers with mpipool::pool(n)");
  }
  detail::validate(options_);
  if (detail::static_pool_open.exchange(true)) {
    throw error("a pool of the static workers is already open; close it before opening another, "
                "or spawn more workers with mpipool::pool(n)");
  }
  // The flag clears when the engine goes, which may be after this pool (an imap range can outlive it).
  auto session = std::make_shared<detail::static_session>();
  executor_ = std::make_shared<detail::manager>(*ctx.static_link(), std::move(session), options_, 1);
}

pool::pool(std::size_t workers, pool_options options) : options_(std::move(options)) {
  auto& ctx = detail::context::current();
  detail::validate(options_);
  if (workers == 0) throw spawn_error("a pool needs at least one worker");
  const int worker_depth = ctx.depth() + 1;
  if (worker_depth > ctx.max_depth()) {
    throw spawn_error("pool nesting depth limit reached: a pool at depth " + std::to_string(worker_depth) +
                      " exceeds MPIPOOL_MAX_DEPTH=" + std::to_string(ctx.max_depth()) +
                      " (a task that opens a pool running the same task recurses for ever); raise "
                      "MPIPOOL_MAX_DEPTH on the master if the depth is intended");
  }
  detail::expire_warm_crews();
  const auto count = static_cast<std::uint32_t>(workers);
  std::unique_ptr<detail::crew> crew;
  if (options_.spawn.reuse) crew = detail::take_warm_crew(count, options_.spawn.hosts);
  if (!crew) crew = detail::start_crew(count, options_.spawn);
  auto session = std::make_shared<detail::crew_session>(std::move(crew), options_.spawn.reuse);
  detail::link& link = session->workers();
  executor_ = std::make_shared<detail::manager>(link, std::move(session), options_, worker_depth);
}

void stop_warm_workers() { detail::stop_warm_crews(); }

pool::~pool() {
  if (!executor_) return;
  try {
    if (std::uncaught_exceptions() > 0) {
      executor_->terminate();
    } else {
      executor_->close();
      executor_->join();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpipool: error while shutting a pool down: %s\n", e.what());
  }
}

pool::pool(pool&&) noexcept = default;
pool& pool::operator=(pool&&) noexcept = default;

std::size_t pool::size() const { return engine().workers(); }

void pool::close() { engine().close(); }
void pool::join() { engine().join(); }
void pool::terminate() { engine().terminate(); }

detail::executor& pool::engine() const {
  if (!executor_) throw pool_closed("this pool was moved from");
  return *executor_;
}

detail::job_settings pool::settings_for(detail::erased_function f, const call_options& options) const {
  detail::job_settings settings;
  settings.task = detail::registry::instance().id_of(f);
  settings.retries = options.retries.value_or(options_.retries);
  settings.timeout = options.timeout.value_or(options_.timeout);
  if (settings.retries < 0) throw error("retries must be >= 0");
  if (settings.timeout.count() > 0 && options_.mode == execution::direct) {
    throw error("a per-task timeout needs execution::supervised: a direct worker cannot stop a running task");
  }
  return settings;
}

std::size_t pool::stream_window(std::size_t chunksize) const { return chunksize * 512 * std::max<std::size_t>(size(), 1); }

}  // namespace mpipool
