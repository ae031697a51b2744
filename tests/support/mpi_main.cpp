// Catch2 main for MPI tests. Only rank 0 (the pool master) runs test cases; the
// other ranks serve its pools, so assertions never sit before a collective.
// mpirun's exit code is non-zero if rank 0 reports failures or any rank dies.

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "mpi_main.hpp"

namespace {
mpipool::environment* the_environment = nullptr;
}

mpipool::environment& test_environment() { return *the_environment; }

int main(int argc, char** argv) {
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  the_environment = &env;
  return Catch::Session().run(argc, argv);
}
