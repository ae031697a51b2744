#pragma once
// Access to the environment that the MPI test main created.

#include <mpipool/mpipool.hpp>

mpipool::environment& test_environment();

/// A pool of the static workers (ranks 1..N-1).
inline mpipool::pool static_pool(mpipool::pool_options options = {}) {
  return mpipool::pool(test_environment(), std::move(options));
}
