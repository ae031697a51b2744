#pragma once
// How many CPUs this process may run on. Launchers bind ranks: Open MPI binds each
// rank to one core when there are at most 2 ranks, Slurm's task/affinity does too,
// and a task process forked by a rank inherits the rank's binding.

#include <sched.h>

namespace mpipool::detail {

inline int cpus_in_affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

}  // namespace mpipool::detail
