#pragma once
// How a pool gets its engine: over the static workers, over a crew of spawned
// workers, or through the rank when the caller is a task process.

#include <cstddef>
#include <memory>

#include "mpipool/detail/job.hpp"
#include "mpipool/options.hpp"

namespace mpipool::detail {

/// Throws if the options contradict each other.
void validate_options(const pool_options& options);

/// The engine for the static workers (rank 0 only).
std::shared_ptr<executor> make_static_executor(const pool_options& options);

/// The engine for `workers` spawned workers (or warm ones, reused).
std::shared_ptr<executor> make_dynamic_executor(std::size_t workers, const pool_options& options);

}  // namespace mpipool::detail
