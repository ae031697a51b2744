#pragma once
// Starting worker processes with MPI_Comm_spawn, and knowing when we cannot.

#include <memory>
#include <string>

#include "allocation.hpp"
#include "ledger.hpp"
#include "link.hpp"

namespace mpipool::detail {

/// Why processes cannot be spawned under this launcher, or empty if they can.
std::string spawn_blocker(const environment_lookup& env);

/// Spawns copies of this program where `grant` says; returns the link to them.
/// Throws spawn_error with MPI's reason if MPI refuses.
std::unique_ptr<link> spawn_workers(const slot_grant& grant);

}  // namespace mpipool::detail
