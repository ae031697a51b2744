#pragma once
// For a binary that watches or damages the tasks messages a master sends over MPI:
// every chunk must travel in one, so none may take a lane to a task process
// (src/lane.hpp). Set before main, in every rank, before any runner reads it.

#include <cstdlib>

namespace {
// Initialised before main for its effect alone: lanes off (src/lane.hpp, lanes_enabled).
[[maybe_unused]] const bool lanes_turned_off = [] { return ::setenv("MPIPOOL_LANE", "0", 1) == 0; }();
}  // namespace
