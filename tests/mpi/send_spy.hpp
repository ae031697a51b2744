#pragma once
// Sees every message this process sends: defines MPI_Send and MPI_Isend (small
// messages leave with the first, larger ones with the second) over the MPI
// profiling interface, and calls spy_on_send for each. Include it in one file of a
// test binary, which defines spy_on_send.

#include <mpi.h>

void spy_on_send(const void* buffer, int count, int tag);

extern "C" int MPI_Send(const void* buffer, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  spy_on_send(buffer, count, tag);
  return PMPI_Send(buffer, count, type, dest, tag, comm);
}

extern "C" int MPI_Isend(const void* buffer, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
                         MPI_Request* request) {
  spy_on_send(buffer, count, tag);
  return PMPI_Isend(buffer, count, type, dest, tag, comm, request);
}
