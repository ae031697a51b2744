#include "pool_setup.hpp"

#include <atomic>

#include "context.hpp"
#include "crew.hpp"
#include "manager.hpp"
#include "proxy_executor.hpp"
#include "task_process.hpp"

namespace mpipool::detail {

namespace {

std::atomic<bool> static_pool_open{false};

/// The static workers belong to the environment; a pool only borrows them.
class static_session final : public session_owner {
 public:
  ~static_session() override { static_pool_open = false; }
  void session_ended(bool) override {}
};

}  // namespace

void validate_options(const pool_options& options) {
  if (options.retries < 0) throw error("pool_options::retries must be >= 0");
  if (options.mode == execution::direct && options.timeout.count() > 0) {
    throw error("a per-task timeout needs execution::supervised: a direct worker cannot stop a running task");
  }
  if (options.mode == execution::direct && options.maxtasksperchild > 0) {
    throw error("maxtasksperchild needs execution::supervised: in direct mode the worker rank itself runs tasks");
  }
  if (options.mode == execution::direct && options.task_memory_limit > 0) {
    throw error("task_memory_limit needs execution::supervised: it limits the task processes");
  }
}

std::shared_ptr<executor> make_static_executor(const pool_options& options) {
  auto& ctx = context::current();
  if (in_task_process() || ctx.role() != process_role::master) {
    throw error("pool(env) opens the static workers and runs on rank 0 only; workers call env.serve() "
                "(write `if (env.is_worker()) return env.serve();` before creating the pool), and a task "
                "opens a pool of its own with mpipool::pool(n)");
  }
  if (ctx.static_link() == nullptr) {
    throw error("no workers: this job has only 1 rank. Start it with `mpirun -n 3 <program>` for 2 workers, "
                "or spawn workers with mpipool::pool(n)");
  }
  validate_options(options);
  if (static_pool_open.exchange(true)) {
    throw error("a pool of the static workers is already open; close it before opening another, "
                "or spawn more workers with mpipool::pool(n)");
  }
  // The flag clears when the engine goes, which may be after the pool (an imap range can outlive it).
  return std::make_shared<manager>(*ctx.static_link(), std::make_shared<static_session>(), options, 1);
}

std::shared_ptr<executor> make_dynamic_executor(std::size_t workers, const pool_options& options) {
  validate_options(options);
  if (workers == 0) throw spawn_error("a pool needs at least one worker");
  if (in_task_process()) return std::make_shared<proxy_executor>(workers, options);
  auto& ctx = context::current();
  const int worker_depth = ctx.depth() + 1;
  if (worker_depth > ctx.max_depth()) {
    throw spawn_error("pool nesting depth limit reached: a pool at depth " + std::to_string(worker_depth) +
                      " exceeds MPIPOOL_MAX_DEPTH=" + std::to_string(ctx.max_depth()) +
                      " (a task that opens a pool running the same task recurses for ever); raise "
                      "MPIPOOL_MAX_DEPTH on the master if the depth is intended");
  }
  expire_warm_crews();
  const auto count = static_cast<std::uint32_t>(workers);
  std::unique_ptr<crew> workers_crew;
  if (options.spawn.reuse) workers_crew = take_warm_crew(count, options.spawn.hosts);
  if (!workers_crew) workers_crew = start_crew(count, options.spawn);
  auto session = std::make_shared<crew_session>(std::move(workers_crew), options.spawn.reuse);
  link& workers_link = session->workers();
  return std::make_shared<manager>(workers_link, std::move(session), options, worker_depth);
}

}  // namespace mpipool::detail
