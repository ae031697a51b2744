// Rank 0 of an MPMD job whose worker is a different binary (mismatch_worker):
// opening the pool must fail with registry_mismatch. Prints the error; exit 0 if seen.

#include <cstdio>

#include <mpipool/mpipool.hpp>

int triple(int x) { return 3 * x; }
MPIPOOL_TASK(triple);

int main(int argc, char** argv) {
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  try {
    mpipool::pool pool(env);
    std::printf("pool opened against a different binary: wrong\n");
    return 1;
  } catch (const mpipool::registry_mismatch& e) {
    std::printf("registry_mismatch: %s\n", e.what());
    return 0;
  }
}
