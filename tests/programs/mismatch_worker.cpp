// The worker half of the registry mismatch test: its registry differs from the master's.

#include <mpipool/mpipool.hpp>

int halve(int x) { return x / 2; }
MPIPOOL_TASK(halve);

int main(int argc, char** argv) {
  mpipool::environment env(argc, argv);
  return env.serve();
}
