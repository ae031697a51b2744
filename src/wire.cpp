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

byte_buffer encode(const session_init& init) {
  byte_buffer out;
  out.put(init.protocol);
  out.put(init.fingerprint);
  out.put(static_cast<std::uint8_t>(init.mode));
  out.put(init.maxtasksperchild);
  out.put(init.depth);
  out.put(init.max_depth);
  out.put(init.workers);
  out.put<std::uint8_t>(init.initializer ? 1 : 0);
  if (init.initializer) {
    out.put(init.initializer->task);
    put_blob(out, init.initializer->args.view());
  }
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
  if (in.get<std::uint8_t>() != 0) {
    bound_call call;
    call.task = in.get<std::uint32_t>();
    auto args = in.get_blob();
    call.args.append(args.data(), args.size());
    init.initializer = std::move(call);
  }
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

void put_chunk(byte_buffer& out, const chunk_header& header, std::span<const std::byte> items) {
  out.put(header.id);
  out.put(header.task);
  out.put(header.count);
  out.put(header.timeout_ms);
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
