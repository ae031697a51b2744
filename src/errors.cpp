#include "mpipool/errors.hpp"

#include <mpi.h>

#include <utility>

namespace mpipool {

namespace {

std::string render_remote(const std::string& type, const std::string& message, const std::vector<origin>& trace) {
  std::string text = type + ": " + message;
  const char* lead = "\n  raised in ";
  for (const auto& hop : trace) {
    text += lead + hop.describe();
    lead = "\n  called from ";
  }
  return text;
}

std::string mpi_error_text(const std::string& routine, int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  return routine + " failed: " + std::string(text, static_cast<std::size_t>(length)) + " (code " +
         std::to_string(code) + ")";
}

}  // namespace

std::string origin::describe() const {
  std::string text = (task.empty() ? "" : "task '" + task + "' on ") + "worker rank " + std::to_string(rank);
  if (workers > 0) text += " of " + std::to_string(workers);
  text += ", host " + host + ", pid " + std::to_string(pid) + ", depth " + std::to_string(depth);
  return text;
}

remote_error::remote_error(std::string exception_type, std::string message, std::vector<origin> trace)
    : error(render_remote(exception_type, message, trace)),
      type_(std::move(exception_type)),
      message_(std::move(message)),
      trace_(std::move(trace)) {
  if (trace_.empty()) trace_.emplace_back();
}

worker_lost::worker_lost(std::string reason, origin where, int signal, int exit_status)
    : error("worker lost: " + reason + " while running " + where.describe()),
      reason_(std::move(reason)),
      where_(std::move(where)),
      signal_(signal),
      exit_status_(exit_status) {}

mpi_error::mpi_error(std::string routine, int code)
    : error(mpi_error_text(routine, code)), routine_(std::move(routine)), code_(code) {}

}  // namespace mpipool
