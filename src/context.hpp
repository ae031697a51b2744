#pragma once
// Process-wide state that the environment sets up: MPI ownership, this process's
// role and identity, and the link to its master or to its static workers.

#include <memory>

#include "link.hpp"
#include "mpipool/errors.hpp"

namespace mpipool::detail {

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

  /// Stops the static workers (master only); called once, at shutdown.
  void stop_static_workers();

 private:
  bool owns_mpi_ = false;
  process_role role_ = process_role::master;
  origin identity_;
  int world_size_ = 1;
  std::unique_ptr<link> static_link_;
  std::unique_ptr<link> parent_link_;
};

/// The node name used in reports: SLURMD_NODENAME under Slurm, else the processor name.
std::string node_name();

}  // namespace mpipool::detail
