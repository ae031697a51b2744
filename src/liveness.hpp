#pragma once
// Heartbeats. A process that has workers (static ones, or crews it spawned, busy
// or parked) tells them every interval that it is alive; a worker tells its
// master the same, and leaves when its master has been silent too long. A master
// counts a worker silent that long as lost (manager.cpp). Plain mpirun already
// tears a job down when a rank dies; these make the same true under
// `mpirun --enable-recovery`, and for spawned processes.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "link.hpp"

namespace mpipool::detail {

struct liveness_settings {
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds peer_timeout{20000};
};

/// MPIPOOL_HEARTBEAT_SECONDS (default 1) and MPIPOOL_PEER_TIMEOUT_SECONDS (default 20), as read on the root.
liveness_settings configured_liveness();

class liveness {
 public:
  liveness() = default;
  ~liveness();
  liveness(const liveness&) = delete;
  liveness& operator=(const liveness&) = delete;

  void set_settings(liveness_settings settings);
  [[nodiscard]] liveness_settings settings() const;
  /// Links to processes that depend on this one.
  void watch_downlink(link& workers);
  void forget_downlink(link& workers);
  /// The link to this process's master: heartbeats go up it, and its silence ends the process.
  void watch_uplink(link& master);
  /// Stops the thread; called before the links go away.
  void stop();

 private:
  void start_locked();
  void run();
  [[noreturn]] static void master_gone(std::chrono::milliseconds silent);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  liveness_settings settings_;
  std::set<link*> downlinks_;
  link* uplink_ = nullptr;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mpipool::detail
