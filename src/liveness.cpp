#include "liveness.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "context.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {

std::chrono::milliseconds seconds_from(const char* variable, double fallback) {
  const char* text = std::getenv(variable);
  const double seconds = text != nullptr ? std::atof(text) : 0.0;
  return std::chrono::milliseconds(static_cast<long>((seconds > 0 ? seconds : fallback) * 1000));
}

}  // namespace

liveness_settings configured_liveness() {
  return {seconds_from("MPIPOOL_HEARTBEAT_SECONDS", 1.0), seconds_from("MPIPOOL_PEER_TIMEOUT_SECONDS", 20.0)};
}

liveness::~liveness() { stop(); }

void liveness::set_settings(liveness_settings settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
}

liveness_settings liveness::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void liveness::watch_downlink(link& workers) {
  std::lock_guard lock(mutex_);
  downlinks_.insert(&workers);
  start_locked();
}

void liveness::forget_downlink(link& workers) {
  std::lock_guard lock(mutex_);
  downlinks_.erase(&workers);
}

void liveness::watch_uplink(link& master) {
  std::lock_guard lock(mutex_);
  uplink_ = &master;
  start_locked();
}

void liveness::start_locked() {
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
}

void liveness::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void liveness::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, settings_.heartbeat, [this] { return stopping_; });
    if (stopping_) return;
    for (link* workers : downlinks_) {
      workers->send_heartbeats();
      workers->drain_heartbeats();  // theirs, when no pool reads this link
      workers->progress_sends();
    }
    if (uplink_ != nullptr) {
      uplink_->send(0, wire::tag_heartbeat, byte_buffer());
      uplink_->drain_heartbeats();
      uplink_->progress_sends();
      const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(link::clock::now() -
                                                                                 uplink_->last_heard(0));
      if (silent > settings_.peer_timeout) master_gone(silent);
    }
  }
}

void liveness::master_gone(std::chrono::milliseconds silent) {
  const auto& self = context::current().identity();
  std::fprintf(stderr,
               "mpipool: worker rank %d on %s: no word from its master for %.1f s; it is gone, so this worker "
               "exits (its task process and sub-pools follow)\n",
               self.rank, self.host.c_str(), static_cast<double>(silent.count()) / 1000.0);
  std::fflush(nullptr);
  ::_exit(75);
}

}  // namespace mpipool::detail
