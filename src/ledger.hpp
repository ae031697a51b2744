#pragma once
// One ledger of slots for the whole job, kept by the root master. Every
// sub-pool, at any depth, reserves its workers' slots here (requests travel up
// the pool tree), so no sub-pool silently oversubscribes a node that others fill.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "allocation.hpp"

namespace mpipool::detail {

struct slot_request {
  std::uint32_t count = 0;
  bool soft = false;           // accept fewer, but at least one
  bool oversubscribe = false;  // place the rest beyond the free slots
  std::string near;            // the requester's node, tried first
  std::string lend;            // the node whose slot the requester lends to this pool; empty: none
  std::vector<std::string> hosts;  // allowed nodes; empty: any
};

struct placement {
  std::string host;
  std::uint32_t count = 0;
};

struct slot_grant {
  std::vector<placement> places;
  std::string lent;  // if set, one worker on this node runs in the requester's lent slot
  bool name_hosts = false;  // the allocation has several nodes: tell MPI_Comm_spawn where
  [[nodiscard]] std::uint32_t total() const;
  [[nodiscard]] std::string describe() const;  // "2 on n1, 1 on n3"
};

class ledger {
 public:
  explicit ledger(std::vector<node_slots> nodes);

  /// Marks a slot used by a process that already runs (a static rank).
  void occupy(const std::string& host);
  /// Reserves slots, or throws spawn_error saying what was asked, what is free and where.
  slot_grant reserve(const slot_request& request);
  void release(const slot_grant& grant);
  /// "n1: 2 slots, 1 in use; n2: 2 slots, 0 in use"
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] std::uint32_t free_slots() const;

 private:
  struct node {
    std::string name;
    std::uint32_t slots = 0;
    std::uint32_t used = 0;
    [[nodiscard]] std::uint32_t free() const { return used >= slots ? 0 : slots - used; }
  };
  node* find(const std::string& name);
  [[nodiscard]] std::string describe_locked() const;

  mutable std::mutex mutex_;
  std::vector<node> nodes_;
};

}  // namespace mpipool::detail
