#pragma once
// Which nodes the job may use and how many slots (cores for workers) each has.
// Read once, on the root master, from (first match wins):
//   MPIPOOL_SLOTS="n1:4,n2:4" or "8"   an explicit override
//   SLURM_JOB_NODELIST + SLURM_JOB_CPUS_PER_NODE   inside a Slurm allocation
//   Open MPI's universe size                        one node: this one

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mpipool::detail {

struct node_slots {
  std::string name;
  std::uint32_t slots = 0;
};

using environment_lookup = std::map<std::string, std::string>;

/// "n[1-3],gpu[01-02]" -> n1 n2 n3 gpu01 gpu02 (Slurm hostlist syntax).
std::vector<std::string> expand_hostlist(const std::string& list);

/// "2(x3),4" -> 2 2 2 4 (SLURM_JOB_CPUS_PER_NODE syntax).
std::vector<std::uint32_t> expand_counts(const std::string& counts);

/// The allocation described by `env` (normally the process environment).
/// `this_node` names the local node; `universe` is MPI_UNIVERSE_SIZE (0 if unknown);
/// `cores` the local core count.
std::vector<node_slots> discover_allocation(const environment_lookup& env, const std::string& this_node,
                                            std::uint32_t universe, std::uint32_t cores);

/// The variables discover_allocation() and the launcher check look at, from the real environment.
environment_lookup read_environment();

}  // namespace mpipool::detail
