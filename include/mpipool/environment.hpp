#pragma once
// The MPI environment: MPI_Init_thread on construction, MPI_Finalize on
// destruction, and the role of this process (master, static worker, or a
// worker spawned by a dynamic pool).

#include <memory>

namespace mpipool {

/// Owns MPI for the process. Create exactly one, first thing in main().
/// @code
/// int main(int argc, char** argv) {
///   mpipool::environment env(argc, argv);
///   if (env.is_worker()) return env.serve();
///   mpipool::pool pool(env);
///   ...
/// }
/// @endcode
class environment {
 public:
  environment(int& argc, char**& argv);
  ~environment();
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  /// True on ranks 1..N-1 of mpirun, and in processes spawned by a dynamic pool.
  [[nodiscard]] bool is_worker() const;
  /// Serves pools until the master shuts down; returns the process exit code.
  int serve();
  /// This process's rank and size in MPI_COMM_WORLD.
  [[nodiscard]] int rank() const;
  [[nodiscard]] int size() const;
};

/// Pool nesting depth of the calling process: 0 on the root master, 1 in its
/// workers, 2 in the workers of a pool opened by a task, and so on.
/// @code
/// int depth_here(int) { return mpipool::nesting_depth(); }
/// @endcode
int nesting_depth();

}  // namespace mpipool
