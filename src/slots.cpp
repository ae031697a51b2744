#include "slots.hpp"

#include <mutex>
#include <optional>

#include "backoff.hpp"
#include "context.hpp"
#include "mpipool/errors.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {

std::mutex uplink_mutex;            // one request in flight per process
std::mutex reply_mutex;
std::optional<byte_buffer> pending_reply;  // filled by whoever receives the reply

void put_strings(byte_buffer& out, const std::vector<std::string>& texts) {
  out.put<std::uint32_t>(static_cast<std::uint32_t>(texts.size()));
  for (const auto& text : texts) wire::put_string(out, text);
}

std::vector<std::string> get_strings(byte_reader& in) {
  const auto count = in.get<std::uint32_t>();
  if (count > in.remaining()) throw serialization_error("corrupt host list");
  std::vector<std::string> texts(count);
  for (auto& text : texts) text = wire::get_string(in);
  return texts;
}

/// Sends `body` to this process's master and waits for the reply.
byte_buffer ask_master(link& uplink, int tag, byte_buffer body) {
  std::lock_guard one_at_a_time(uplink_mutex);
  uplink.send(0, tag, std::move(body));
  backoff idle(std::chrono::microseconds(1000), std::chrono::microseconds(50), std::chrono::milliseconds(20));
  for (;;) {
    uplink.progress_sends();
    {
      std::lock_guard lock(reply_mutex);
      if (pending_reply) {
        byte_buffer reply = std::move(*pending_reply);
        pending_reply.reset();
        return reply;
      }
    }
    // The loop that owns the uplink may be blocked in the task that asks: take the reply here.
    if (auto reply = uplink.receive_tagged(wire::tag_slot_reply)) return std::move(reply->body);
    idle.pause();
  }
}

}  // namespace

void deliver_slot_reply(byte_buffer body) {
  std::lock_guard lock(reply_mutex);
  pending_reply = std::move(body);
}

byte_buffer encode(const slot_request& request) {
  byte_buffer out;
  out.put(request.count);
  out.put<std::uint8_t>(request.soft ? 1 : 0);
  out.put<std::uint8_t>(request.oversubscribe ? 1 : 0);
  wire::put_string(out, request.near);
  wire::put_string(out, request.lend);
  put_strings(out, request.hosts);
  return out;
}

slot_request decode_request(byte_reader& in) {
  slot_request request;
  request.count = in.get<std::uint32_t>();
  request.soft = in.get<std::uint8_t>() != 0;
  request.oversubscribe = in.get<std::uint8_t>() != 0;
  request.near = wire::get_string(in);
  request.lend = wire::get_string(in);
  request.hosts = get_strings(in);
  return request;
}

void put_grant(byte_buffer& out, const slot_grant& grant) {
  out.put<std::uint32_t>(static_cast<std::uint32_t>(grant.places.size()));
  for (const auto& place : grant.places) {
    wire::put_string(out, place.host);
    out.put(place.count);
  }
  wire::put_string(out, grant.lent);
  out.put<std::uint8_t>(grant.name_hosts ? 1 : 0);
}

slot_grant get_grant(byte_reader& in) {
  slot_grant grant;
  const auto places = in.get<std::uint32_t>();
  if (places > in.remaining()) throw serialization_error("corrupt slot grant");
  grant.places.resize(places);
  for (auto& place : grant.places) {
    place.host = wire::get_string(in);
    place.count = in.get<std::uint32_t>();
  }
  grant.lent = wire::get_string(in);
  grant.name_hosts = in.get<std::uint8_t>() != 0;
  return grant;
}

slot_grant request_slots(const slot_request& request) {
  auto& ctx = context::current();
  if (link* uplink = ctx.uplink()) {
    byte_buffer reply = ask_master(*uplink, wire::tag_slot_request, encode(request));
    byte_reader in(reply.view());
    if (in.get<std::uint8_t>() == 0) throw spawn_error(wire::get_string(in));
    return get_grant(in);
  }
  return ctx.root_ledger().reserve(request);
}

void return_slots(const slot_grant& grant) {
  auto& ctx = context::current();
  if (ctx.closing()) return;  // the job is ending; nobody will ask again
  if (link* uplink = ctx.uplink()) {
    byte_buffer body;
    put_grant(body, grant);
    uplink->send(0, wire::tag_slot_return, std::move(body));
    return;
  }
  ctx.root_ledger().release(grant);
}

byte_buffer answer_slot_request(std::span<const std::byte> request_body, slot_grant& granted, bool& ok) {
  byte_buffer reply;
  try {
    byte_reader in(request_body);
    granted = request_slots(decode_request(in));
    ok = true;
    reply.put<std::uint8_t>(1);
    put_grant(reply, granted);
  } catch (const std::exception& e) {
    ok = false;
    reply.clear();
    reply.put<std::uint8_t>(0);
    wire::put_string(reply, e.what());
  }
  return reply;
}

}  // namespace mpipool::detail
