#pragma once
// SIGTERM (Slurm's scancel and walltime, or kill) and SIGINT on the root master.
// Results the master has already received are handed to their callbacks, the
// workers are told to stop, and then the process ends by the signal as usual.

#include <functional>

namespace mpipool::detail {

/// Installs the handlers and the thread that acts on them (root master only).
/// MPIPOOL_NO_SIGNAL_HANDLERS=1 leaves the signals alone.
void install_termination_handlers(std::function<void()> on_terminate);

/// Removes them again, before MPI_Finalize.
void remove_termination_handlers();

}  // namespace mpipool::detail
