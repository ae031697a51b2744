#pragma once
// Errors cross the wire as records: a task's exception on a worker becomes bytes,
// and the bytes become the matching mpipool exception on the master. A remote
// error from a nested pool keeps its whole path and gains one hop per level.

#include <exception>

#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/errors.hpp"

namespace mpipool::detail {

/// Writes `error`, which was raised while running the task described by `here`.
void write_error(byte_buffer& out, const std::exception_ptr& error, const origin& here);

/// Writes a lost task: its process died with `signal` or `exit_status`.
void write_lost(byte_buffer& out, const std::string& reason, const origin& here, int signal, int exit_status);

/// Writes a task stopped because it ran past its time limit.
void write_timeout(byte_buffer& out, const std::string& reason, const origin& here);

/// Writes an error as it is, adding no hop: a rank relaying its sub-pool's
/// errors to its own task process, which is the same worker.
void write_relayed(byte_buffer& out, const std::exception_ptr& error);

/// The exception a record stands for.
std::exception_ptr read_error(std::span<const std::byte> record);

}  // namespace mpipool::detail
