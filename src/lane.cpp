#include "lane.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace mpipool::detail {

bool lanes_enabled() {
  static const bool enabled = [] {
    const char* setting = std::getenv("MPIPOOL_LANE");
    return setting == nullptr || std::strcmp(setting, "0") != 0;
  }();
  return enabled;
}

byte_buffer encode(const lane_offer& offer) {
  byte_buffer out;
  out.put(offer.pid);
  out.put(offer.to_task_fd);
  out.put(offer.from_task_fd);
  out.put(offer.to_task_token);
  out.put(offer.from_task_token);
  return out;
}

lane_offer decode_lane_offer(byte_reader& in) {
  lane_offer offer;
  offer.pid = in.get<std::int64_t>();
  offer.to_task_fd = in.get<std::int32_t>();
  offer.from_task_fd = in.get<std::int32_t>();
  offer.to_task_token = in.get<std::uint64_t>();
  offer.from_task_token = in.get<std::uint64_t>();
  return offer;
}

task_lane task_lane::create() {
  return {shm_ring::create_attachable(lane_ring_bytes), shm_ring::create_attachable(lane_ring_bytes)};
}

lane_offer task_lane::offer() const {
  return {static_cast<std::int64_t>(::getpid()), to_task->fd(), from_task->fd(), to_task->token(),
          from_task->token()};
}

master_lane::master_lane(const lane_offer& offer)
    : to_task_(shm_ring::attach(offer.pid, offer.to_task_fd, lane_ring_bytes, offer.to_task_token)),
      from_task_(shm_ring::attach(offer.pid, offer.from_task_fd, lane_ring_bytes, offer.from_task_token)) {}

}  // namespace mpipool::detail
