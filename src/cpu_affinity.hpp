#pragma once
// How many CPUs this process may run on. Launchers bind ranks: Open MPI binds each
// rank to one core when there are at most 2 ranks, Slurm's task/affinity does too,
// and a task process forked by a rank inherits the rank's binding.

#include <sched.h>
#include <unistd.h>

#include <cstdlib>

namespace mpipool::detail {

/// The cores this process may run on; none if the kernel would not say.
inline cpu_set_t affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) CPU_ZERO(&set);
  return set;
}

/// How many cores this process may run on; one if the kernel would not say, the
/// cautious answer for the rules below.
inline int cpus_in_affinity() {
  const cpu_set_t set = affinity();
  return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
}

/// Whether a rank's task process can run beside it rather than take turns with it
/// on one core: the node has a core for every rank and task process, and the rank
/// is not bound to a single core (its task process would inherit that binding).
inline bool task_process_has_own_core() {
  static const bool own = [] {
    const char* local_ranks = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");  // set by Open MPI's launcher
    const long ranks = local_ranks != nullptr ? std::atol(local_ranks) : 0;
    return ranks > 0 && 2 * ranks <= ::sysconf(_SC_NPROCESSORS_ONLN) && cpus_in_affinity() >= 2;
  }();
  return own;
}

/// Whether this process is bound to a single core, which a task process forked
/// from it inherits: then the two can only take turns.
inline bool bound_to_one_core() {
  static const bool bound = cpus_in_affinity() == 1;
  return bound;
}

}  // namespace mpipool::detail
