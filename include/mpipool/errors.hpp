#pragma once
// Every error mpipool raises derives from mpipool::error, so one catch clause can
// handle them all, and each kind carries the facts a user needs to act on it.

#include <stdexcept>
#include <string>
#include <vector>

namespace mpipool {

/// Base of every mpipool exception.
/// @code
/// try { pool.map(square, xs); } catch (const mpipool::error& e) { std::cerr << e.what(); }
/// @endcode
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One hop of a remote error's path: the worker process a task ran in.
struct origin {
  std::string task;  ///< name of the task that was running there
  int rank = -1;     ///< rank of the worker in its own MPI_COMM_WORLD
  int workers = 0;   ///< number of workers in that pool
  std::string host;  ///< node name (SLURMD_NODENAME when under Slurm)
  long pid = 0;
  int depth = 0;  ///< pool nesting depth: 1 for the top pool's workers

  /// "task 'f' on worker rank 2 of 3, host n1, pid 1234, depth 1"
  [[nodiscard]] std::string describe() const;
};

/// A task threw. Carries the exception's type and message, and where it ran:
/// trace().front() is the innermost pool, trace().back() the one this process owns.
/// @code
/// catch (const mpipool::remote_error& e) { std::cerr << e.exception_type() << " on " << e.host(); }
/// @endcode
class remote_error : public error {
 public:
  remote_error(std::string exception_type, std::string message, std::vector<origin> trace);
  [[nodiscard]] const std::string& task() const { return trace_.front().task; }
  [[nodiscard]] const std::string& exception_type() const { return type_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  [[nodiscard]] int rank() const { return trace_.front().rank; }
  [[nodiscard]] const std::string& host() const { return trace_.front().host; }
  [[nodiscard]] const std::vector<origin>& trace() const { return trace_; }

 private:
  std::string type_;
  std::string message_;
  std::vector<origin> trace_;
};

/// The process running a task died (signal, exit, or lost contact) before it answered.
/// @code
/// catch (const mpipool::worker_lost& e) { if (e.signal() == SIGSEGV) ... }
/// @endcode
class worker_lost : public error {
 public:
  worker_lost(std::string reason, origin where, int signal, int exit_status);
  /// What happened, e.g. "task process killed by signal 11 (Segmentation fault)".
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] int signal() const { return signal_; }            ///< 0 when not killed by a signal
  [[nodiscard]] int exit_status() const { return exit_status_; }  ///< -1 when it did not exit
  [[nodiscard]] const origin& where() const { return where_; }
  [[nodiscard]] const std::string& task() const { return where_.task; }

 private:
  std::string reason_;
  origin where_;
  int signal_;
  int exit_status_;
};

/// Workers could not be started: no free slots, a launcher that cannot spawn, or MPI refused.
class spawn_error : public error {
 public:
  using error::error;
};

/// A task ran longer than its timeout, or a wait timed out.
class timeout_error : public error {
 public:
  using error::error;
};

/// The pool was closed or terminated before the call.
class pool_closed : public error {
 public:
  using error::error;
};

/// The function is not registered with MPIPOOL_TASK, or a worker does not know the task.
class unknown_task : public error {
 public:
  using error::error;
};

/// Master and worker were built from different binaries or task registries.
class registry_mismatch : public error {
 public:
  using error::error;
};

/// A payload could not be serialized or deserialized, or a message was malformed.
class serialization_error : public error {
 public:
  using error::error;
};

/// An MPI call failed: carries the routine, the error code and MPI_Error_string's text.
class mpi_error : public error {
 public:
  mpi_error(std::string routine, int code);
  [[nodiscard]] const std::string& routine() const { return routine_; }
  [[nodiscard]] int code() const { return code_; }

 private:
  std::string routine_;
  int code_;
};

}  // namespace mpipool
