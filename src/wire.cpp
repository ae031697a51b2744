#include "wire.hpp"

namespace mpipool::detail::wire {

void put_blob(byte_buffer& out, std::span<const std::byte> bytes) {
  out.put<std::uint64_t>(bytes.size());
  out.append(bytes.data(), bytes.size());
}

void put_string(byte_buffer& out, const std::string& text) {
  put_blob(out, std::as_bytes(std::span(text.data(), text.size())));
}

std::string get_string(byte_reader& in) {
  auto bytes = in.get_blob();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

namespace {

void put_call(byte_buffer& out, const std::optional<bound_call>& call) {
  out.put<std::uint8_t>(call ? 1 : 0);
  if (!call) return;
  out.put(call->task);
  put_blob(out, call->args.view());
}

std::optional<bound_call> get_call(byte_reader& in) {
  if (in.get<std::uint8_t>() == 0) return std::nullopt;
  bound_call call;
  call.task = in.get<std::uint32_t>();
  auto args = in.get_blob();
  call.args.append(args.data(), args.size());
  return call;
}

}  // namespace

byte_buffer encode(const session_init& init) {
  byte_buffer out;
  out.put(init.protocol);
  out.put(init.fingerprint);
  out.put(static_cast<std::uint8_t>(init.mode));
  out.put(init.maxtasksperchild);
  out.put(init.depth);
  out.put(init.max_depth);
  out.put(init.workers);
  out.put(init.task_memory_limit);
  out.put(init.heartbeat_ms);
  out.put(init.peer_timeout_ms);
  put_call(out, init.initializer);
  return out;
}

session_init decode_init(byte_reader& in) {
  session_init init;
  init.protocol = in.get<std::uint32_t>();
  if (init.protocol != protocol_version) {
    throw registry_mismatch("master speaks mpipool protocol " + std::to_string(init.protocol) +
                            " but this worker speaks " + std::to_string(protocol_version) +
                            ": run the same build of the program everywhere");
  }
  init.fingerprint = in.get<std::uint64_t>();
  init.mode = static_cast<execution>(in.get<std::uint8_t>());
  init.maxtasksperchild = in.get<std::uint64_t>();
  init.depth = in.get<std::int32_t>();
  init.max_depth = in.get<std::int32_t>();
  init.workers = in.get<std::int32_t>();
  init.task_memory_limit = in.get<std::uint64_t>();
  init.heartbeat_ms = in.get<std::uint32_t>();
  init.peer_timeout_ms = in.get<std::uint32_t>();
  init.initializer = get_call(in);
  return init;
}

byte_buffer encode(const ready_reply& reply) {
  byte_buffer out;
  out.put<std::uint8_t>(reply.ok ? 1 : 0);
  out.put(reply.fingerprint);
  out.put<std::int32_t>(reply.identity.rank);
  out.put<std::int64_t>(reply.identity.pid);
  put_string(out, reply.identity.host);
  put_blob(out, reply.failure.view());
  return out;
}

ready_reply decode_ready(byte_reader& in) {
  ready_reply reply;
  reply.ok = in.get<std::uint8_t>() != 0;
  reply.fingerprint = in.get<std::uint64_t>();
  reply.identity.rank = in.get<std::int32_t>();
  reply.identity.pid = static_cast<long>(in.get<std::int64_t>());
  reply.identity.host = get_string(in);
  auto failure = in.get_blob();
  reply.failure.append(failure.data(), failure.size());
  return reply;
}


void put_pool_options(byte_buffer& out, const pool_options& options) {
  put_call(out, options.initializer);
  out.put(static_cast<std::uint8_t>(options.mode));
  out.put<std::int32_t>(options.retries);
  out.put<std::int64_t>(options.timeout.count());
  out.put<std::uint64_t>(options.maxtasksperchild);
  out.put<std::uint64_t>(options.prefetch);
  out.put<std::uint64_t>(options.task_memory_limit);
  out.put<std::uint32_t>(static_cast<std::uint32_t>(options.spawn.hosts.size()));
  for (const auto& host : options.spawn.hosts) put_string(out, host);
  out.put<std::uint8_t>(options.spawn.soft ? 1 : 0);
  out.put<std::uint8_t>(options.spawn.oversubscribe ? 1 : 0);
  out.put<std::uint8_t>(options.spawn.lend_parent_slot ? 1 : 0);
  out.put<std::uint8_t>(options.spawn.reuse ? 1 : 0);
}

pool_options get_pool_options(byte_reader& in) {
  pool_options options;
  options.initializer = get_call(in);
  options.mode = static_cast<execution>(in.get<std::uint8_t>());
  options.retries = in.get<std::int32_t>();
  options.timeout = std::chrono::milliseconds(in.get<std::int64_t>());
  options.maxtasksperchild = in.get<std::uint64_t>();
  options.prefetch = in.get<std::uint64_t>();
  options.task_memory_limit = in.get<std::uint64_t>();
  const auto hosts = in.get<std::uint32_t>();
  if (hosts > in.remaining()) throw serialization_error("corrupt pool options");
  for (std::uint32_t i = 0; i < hosts; ++i) options.spawn.hosts.push_back(get_string(in));
  options.spawn.soft = in.get<std::uint8_t>() != 0;
  options.spawn.oversubscribe = in.get<std::uint8_t>() != 0;
  options.spawn.lend_parent_slot = in.get<std::uint8_t>() != 0;
  options.spawn.reuse = in.get<std::uint8_t>() != 0;
  return options;
}

void put_chunk(byte_buffer& out, const chunk_header& header, std::span<const std::byte> items) {
  out.reserve(out.size() + chunk_header_bytes + sizeof(std::uint64_t) + items.size());  // one growth at most
  out.put(header.id);
  out.put(header.task);
  out.put(header.count);
  out.put(header.timeout_ms);
  out.put(header.item_size);
  put_blob(out, items);
}

void put_result(byte_buffer& out, std::uint64_t chunk, std::uint32_t item, item_status status,
                std::span<const std::byte> payload) {
  out.put(chunk);
  out.put(item);
  out.put(static_cast<std::uint8_t>(status));
  put_blob(out, payload);
}

}  // namespace mpipool::detail::wire
