#include "mpipool/pool.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "crew.hpp"
#include "pool_setup.hpp"

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

}  // namespace detail

pool::pool(environment& /*env*/, pool_options options)
    : executor_(detail::make_static_executor(options)), options_(std::move(options)) {}

pool::pool(std::size_t workers, pool_options options)
    : executor_(detail::make_dynamic_executor(workers, options)), options_(std::move(options)) {}

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
