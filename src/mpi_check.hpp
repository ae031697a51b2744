#pragma once
// Every MPI call we make goes through check(): our communicators use
// MPI_ERRORS_RETURN, and a failing call becomes an mpipool::mpi_error.

#include <mpi.h>

#include "mpipool/errors.hpp"

namespace mpipool::detail {

inline void check(int rc, const char* routine) {
  if (rc != MPI_SUCCESS) throw mpi_error(routine, rc);
}

/// Makes MPI report errors on `comm` as return codes instead of aborting the job.
inline void return_errors(MPI_Comm comm) { check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler"); }

}  // namespace mpipool::detail
