#pragma once
// Reserving and returning slots from any process. The root master consults its
// ledger directly; every other process asks its own master over its uplink, and
// each master answers from its ledger or forwards the question up in turn.

#include <span>

#include "ledger.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"

namespace mpipool::detail {

/// Reserves slots; throws spawn_error when they cannot be had.
slot_grant request_slots(const slot_request& request);
/// Gives a grant's slots back.
void return_slots(const slot_grant& grant);

byte_buffer encode(const slot_request& request);
slot_request decode_request(byte_reader& in);
void put_grant(byte_buffer& out, const slot_grant& grant);
slot_grant get_grant(byte_reader& in);

/// A master's answer to a worker's request: [u8 ok][grant | error text].
byte_buffer answer_slot_request(std::span<const std::byte> request_body, slot_grant& granted, bool& ok);

/// A reply arrived on the uplink for a request this process is waiting on (the
/// supervised worker loop passes replies it receives here).
void deliver_slot_reply(byte_buffer body);

}  // namespace mpipool::detail
