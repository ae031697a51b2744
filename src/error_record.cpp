#include "error_record.hpp"

#include <typeinfo>
#include <vector>

#include "mpipool/detail/type_name.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {

enum class error_kind : std::uint8_t { remote, lost, timeout, serialization, unknown_task, closed, spawn, other };

void put_origin(byte_buffer& out, const origin& hop) {
  wire::put_string(out, hop.task);
  out.put<std::int32_t>(hop.rank);
  out.put<std::int32_t>(hop.workers);
  wire::put_string(out, hop.host);
  out.put<std::int64_t>(hop.pid);
  out.put<std::int32_t>(hop.depth);
}

origin get_origin(byte_reader& in) {
  origin hop;
  hop.task = wire::get_string(in);
  hop.rank = in.get<std::int32_t>();
  hop.workers = in.get<std::int32_t>();
  hop.host = wire::get_string(in);
  hop.pid = static_cast<long>(in.get<std::int64_t>());
  hop.depth = in.get<std::int32_t>();
  return hop;
}

void put_record(byte_buffer& out, error_kind kind, const std::string& type, const std::string& message,
                const std::vector<origin>& trace, int signal = 0, int exit_status = -1) {
  out.put(static_cast<std::uint8_t>(kind));
  wire::put_string(out, type);
  wire::put_string(out, message);
  out.put<std::uint32_t>(static_cast<std::uint32_t>(trace.size()));
  for (const auto& hop : trace) put_origin(out, hop);
  out.put<std::int32_t>(signal);
  out.put<std::int32_t>(exit_status);
}

}  // namespace

void write_error(byte_buffer& out, const std::exception_ptr& error, const origin& here) {
  try {
    std::rethrow_exception(error);
  } catch (const remote_error& e) {
    // A nested pool's error: keep its path and add this hop.
    auto trace = e.trace();
    trace.push_back(here);
    put_record(out, error_kind::remote, e.exception_type(), e.message(), trace);
  } catch (const serialization_error& e) {
    put_record(out, error_kind::serialization, "mpipool::serialization_error", e.what(), {here});
  } catch (const unknown_task& e) {
    put_record(out, error_kind::unknown_task, "mpipool::unknown_task", e.what(), {here});
  } catch (const std::exception& e) {
    put_record(out, error_kind::remote, demangle(typeid(e).name()), e.what(), {here});
  } catch (...) {
    put_record(out, error_kind::remote, "(unknown type)", "an exception not derived from std::exception", {here});
  }
}

void write_relayed(byte_buffer& out, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const remote_error& e) {
    put_record(out, error_kind::remote, e.exception_type(), e.message(), e.trace());
  } catch (const worker_lost& e) {
    put_record(out, error_kind::lost, "mpipool::worker_lost", e.reason(), {e.where()}, e.signal(), e.exit_status());
  } catch (const timeout_error& e) {
    put_record(out, error_kind::timeout, "mpipool::timeout_error", e.what(), {});
  } catch (const serialization_error& e) {
    put_record(out, error_kind::serialization, "mpipool::serialization_error", e.what(), {});
  } catch (const unknown_task& e) {
    put_record(out, error_kind::unknown_task, "mpipool::unknown_task", e.what(), {});
  } catch (const pool_closed& e) {
    put_record(out, error_kind::closed, "mpipool::pool_closed", e.what(), {});
  } catch (const spawn_error& e) {
    put_record(out, error_kind::spawn, "mpipool::spawn_error", e.what(), {});
  } catch (const std::exception& e) {
    put_record(out, error_kind::other, demangle(typeid(e).name()), e.what(), {});
  } catch (...) {
    put_record(out, error_kind::other, "(unknown type)", "an exception not derived from std::exception", {});
  }
}

void write_lost(byte_buffer& out, const std::string& reason, const origin& here, int signal, int exit_status) {
  put_record(out, error_kind::lost, "mpipool::worker_lost", reason, {here}, signal, exit_status);
}

void write_timeout(byte_buffer& out, const std::string& reason, const origin& here) {
  put_record(out, error_kind::timeout, "mpipool::timeout_error", reason, {here});
}

std::exception_ptr read_error(std::span<const std::byte> record) {
  try {
    byte_reader in(record);
    const auto kind = static_cast<error_kind>(in.get<std::uint8_t>());
    auto type = wire::get_string(in);
    auto message = wire::get_string(in);
    const auto hops = in.get<std::uint32_t>();
    if (hops > in.remaining()) throw serialization_error("corrupt error record: trace length");
    std::vector<origin> trace(hops);
    for (auto& hop : trace) hop = get_origin(in);
    const int signal = in.get<std::int32_t>();
    const int exit_status = in.get<std::int32_t>();
    const origin where = trace.empty() ? origin{} : trace.front();
    // A relayed record has no trace: its message already says where.
    const std::string text = trace.empty() ? message : message + " (" + where.describe() + ")";
    switch (kind) {
      case error_kind::lost:
        return std::make_exception_ptr(worker_lost(message, where, signal, exit_status));
      case error_kind::timeout:
        return std::make_exception_ptr(timeout_error(text));
      case error_kind::serialization:
        return std::make_exception_ptr(serialization_error(text));
      case error_kind::unknown_task:
        return std::make_exception_ptr(unknown_task(text));
      case error_kind::closed:
        return std::make_exception_ptr(pool_closed(text));
      case error_kind::spawn:
        return std::make_exception_ptr(spawn_error(text));
      case error_kind::other:
        return std::make_exception_ptr(error(type + ": " + text));
      case error_kind::remote:
        return std::make_exception_ptr(remote_error(std::move(type), std::move(message), std::move(trace)));
    }
    throw serialization_error("corrupt error record: unknown kind");
  } catch (const serialization_error& e) {
    return std::make_exception_ptr(serialization_error(std::string("a worker sent an unreadable error: ") + e.what()));
  }
}

}  // namespace mpipool::detail
