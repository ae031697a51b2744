#pragma once
// Process-wide state that the environment sets up: MPI ownership, this process's
// role and identity, and the link to its master or to its static workers.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "link.hpp"
#include "liveness.hpp"
#include "mpipool/errors.hpp"

namespace mpipool::detail {

class manager;

enum class process_role { master, static_worker, spawned_worker };

class context {
 public:
  context(int& argc, char**& argv);
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// The context of this process; throws if no mpipool::environment exists.
  static context& current();

  [[nodiscard]] process_role role() const { return role_; }
  [[nodiscard]] const origin& identity() const { return identity_; }
  [[nodiscard]] int world_size() const { return world_size_; }
  /// Master: the link to ranks 1..N-1. Static worker: the link to rank 0. Otherwise null.
  [[nodiscard]] link* static_link() const { return static_link_.get(); }
  /// Spawned worker: the link to the process that spawned it.
  [[nodiscard]] link* parent_link() const { return parent_link_.get(); }
  /// The link to this process's own master, where slot requests go; null on the root.
  [[nodiscard]] link* uplink() const {
    return role_ == process_role::spawned_worker ? parent_link_.get()
                                                 : role_ == process_role::static_worker ? static_link_.get() : nullptr;
  }

  /// The program's arguments (after MPI_Init removed its own), for spawning copies of it.
  [[nodiscard]] const std::vector<std::string>& arguments() const { return arguments_; }

  /// Pool nesting depth of this process: 0 for the root, 1 for its workers, and so on.
  [[nodiscard]] int depth() const { return depth_.load(); }
  [[nodiscard]] int max_depth() const { return max_depth_.load(); }
  /// Set when a session starts on this worker: its depth, and the job's depth limit.
  void set_depth(int depth, int max_depth) {
    depth_ = depth;
    max_depth_ = max_depth;
  }

  /// The job's slot ledger; exists on the root master only.
  ledger& root_ledger();

  /// A task lends this process's slot to one sub-pool at a time; true if it was free.
  bool borrow_own_slot() { return !slot_lent_.exchange(true); }
  void return_own_slot() { slot_lent_ = false; }

  /// Stops the static workers (master only); called once, at shutdown.
  void stop_static_workers();
  /// True once the environment is being torn down: slots need not be returned then.
  [[nodiscard]] bool closing() const { return closing_; }

  /// Heartbeats to this process's workers and from it to its master.
  [[nodiscard]] liveness& heartbeats() { return liveness_; }

  /// The pool engines of this process, so a SIGTERM can flush their results.
  void register_engine(manager* engine);
  void unregister_engine(manager* engine);

 private:
  void gather_world_hosts();
  /// One line at start: nodes, slots per node and in use, ranks (under Slurm or MPIPOOL_VERBOSE=1).
  void log_allocation();
  /// What the root master does on SIGTERM: flush results to callbacks, stop the workers.
  void terminate_gracefully();

  bool owns_mpi_ = false;
  process_role role_ = process_role::master;
  origin identity_;
  int world_size_ = 1;
  std::unique_ptr<link> static_link_;
  std::unique_ptr<link> parent_link_;
  std::vector<std::string> arguments_;
  std::vector<std::string> world_hosts_;  // root only: the node of every world rank
  std::atomic<int> depth_{0};
  std::atomic<int> max_depth_{8};
  std::atomic<bool> slot_lent_{false};
  std::atomic<bool> closing_{false};
  std::once_flag ledger_once_;
  std::unique_ptr<ledger> ledger_;
  std::mutex engines_mutex_;
  std::vector<manager*> engines_;
  liveness liveness_;  // declared last: stopped first, before the links it watches
};

/// The depth limit for pools opened on the root: MPIPOOL_MAX_DEPTH, or 8.
int configured_max_depth();

/// The node name used in reports: SLURMD_NODENAME under Slurm, else the processor name.
std::string node_name();

}  // namespace mpipool::detail
