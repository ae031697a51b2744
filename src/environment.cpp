#include "mpipool/environment.hpp"

#include <mpi.h>

#include <cstdio>
#include <exception>
#include <memory>

#include "context.hpp"
#include "worker.hpp"

namespace mpipool {

namespace {
std::unique_ptr<detail::context> process_context;
}

environment::environment(int& argc, char**& argv) {
  process_context = std::make_unique<detail::context>(argc, argv);
}

environment::~environment() {
  const bool failing = std::uncaught_exceptions() > 0;
  if (failing && is_worker()) {
    // A worker that cannot go on must not leave its master waiting forever.
    std::fprintf(stderr, "mpipool: worker rank %d is failing with an exception; aborting the job\n", rank());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  process_context.reset();
}

bool environment::is_worker() const { return detail::context::current().role() != detail::process_role::master; }

int environment::serve() {
  auto& ctx = detail::context::current();
  detail::link* master =
      ctx.role() == detail::process_role::spawned_worker ? ctx.parent_link() : ctx.static_link();
  if (!is_worker() || master == nullptr) {
    throw error("serve() is for worker processes; this is the master (rank 0): create a pool here instead");
  }
  detail::worker(*master, ctx.identity()).serve();
  return 0;
}

int environment::rank() const { return detail::context::current().identity().rank; }

int environment::size() const { return detail::context::current().world_size(); }

int nesting_depth() { return detail::context::current().depth(); }

}  // namespace mpipool
