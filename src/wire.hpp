#pragma once
// The messages between a pool's master and its workers. Each is one MPI message
// of bytes (or a header and its parts, link.hpp); the tag says what it is.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/errors.hpp"
#include "mpipool/options.hpp"

namespace mpipool::detail::wire {

inline constexpr std::uint32_t protocol_version = 4;

enum tag : int {
  tag_init = 1,      // master -> worker: a pool session starts (session_init)
  tag_ready = 2,     // worker -> master: answer to init (ready_reply)
  tag_tasks = 3,     // master -> worker: chunks to run
  tag_results = 4,   // worker -> master: item results
  tag_release = 5,   // master -> worker: the session ends; drop queued chunks
  tag_released = 6,  // worker -> master: nothing more of this session will follow
  tag_stop = 7,      // master -> worker: leave serve()
  tag_part = 8,      // a continuation part of a message too large for one send
  tag_slot_request = 9,   // worker -> master: reserve slots for a sub-pool (forwarded up to the root)
  tag_slot_reply = 10,    // master -> worker: the grant, or why not
  tag_slot_return = 11,   // worker -> master: a sub-pool ended; its slots are free again
  tag_rejected = 12,      // worker -> master: a tasks message could not be read (see below)
  tag_heartbeat = 13,     // both ways, empty, every heartbeat interval: "I am alive"
  tag_lane = 14,          // worker -> master: a lane to its task process (lane.hpp), replacing any before
};

// A tasks message: [u64 message id][u32 chunk count] then per chunk a chunk_header
// and its items. A worker that cannot read one answers tag_rejected:
// [u64 message id, 0 if unreadable][u32 n][n x u64 chunk ids it did accept][reason].

/// Added to a tag when the message is the first part of a split message.
inline constexpr int split_flag = 1 << 12;

/// lost: may be retried. ok_run: the results of consecutive items from the one named,
/// from a packed chunk: [u32 count][count x the result's raw bytes].
enum class item_status : std::uint8_t { ok = 0, failed = 1, lost = 2, ok_run = 3 };

void put_blob(byte_buffer& out, std::span<const std::byte> bytes);
void put_string(byte_buffer& out, const std::string& text);
std::string get_string(byte_reader& in);

struct session_init {
  std::uint32_t protocol = protocol_version;
  std::uint64_t fingerprint = 0;
  execution mode = execution::direct;
  std::uint64_t maxtasksperchild = 0;
  std::int32_t depth = 1;    // nesting depth of the workers of this pool
  std::int32_t max_depth = 8;  // deepest pool a task may open (guards runaway recursion)
  std::int32_t workers = 0;  // size of the pool
  std::uint64_t task_memory_limit = 0;
  std::uint32_t heartbeat_ms = 1000;     // how often each side says it is alive
  std::uint32_t peer_timeout_ms = 20000;  // silence after which the other side counts as dead
  std::optional<bound_call> initializer;
};
byte_buffer encode(const session_init& init);
session_init decode_init(byte_reader& in);

struct ready_reply {
  bool ok = true;
  std::uint64_t fingerprint = 0;
  origin identity;     // rank, host, pid and depth of the worker
  byte_buffer failure;  // an error record when !ok
};
byte_buffer encode(const ready_reply& reply);
ready_reply decode_ready(byte_reader& in);

/// Header of one chunk inside a tasks message; the chunk's items follow as a blob.
struct chunk_header {
  std::uint64_t id = 0;
  std::uint32_t task = 0;
  std::uint32_t count = 0;
  std::int64_t timeout_ms = 0;
  std::uint32_t item_size = 0;  // 0: items are [u64 length][bytes]; else packed, this many bytes each
};
/// What put_chunk writes before the items' length: every field, unpadded.
constexpr std::size_t chunk_header_bytes = sizeof(chunk_header::id) + sizeof(chunk_header::task) +
                                           sizeof(chunk_header::count) + sizeof(chunk_header::timeout_ms) +
                                           sizeof(chunk_header::item_size);
void put_chunk(byte_buffer& out, const chunk_header& header, std::span<const std::byte> items);

/// Pool options travel from a task process to its rank, which opens the pool for it.
void put_pool_options(byte_buffer& out, const pool_options& options);
pool_options get_pool_options(byte_reader& in);

/// Results are written item by item: [u64 chunk][u32 item][u8 status][blob].
void put_result(byte_buffer& out, std::uint64_t chunk, std::uint32_t item, item_status status,
                std::span<const std::byte> payload);

}  // namespace mpipool::detail::wire
