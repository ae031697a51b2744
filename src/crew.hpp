#pragma once
// A crew is a set of spawned worker processes with their link and their slots.
// A dynamic pool runs its session on a crew; when the pool ends, the crew is
// parked warm, so the next pool of the same size in this process starts in
// microseconds instead of spawning again, or it is stopped and its slots returned.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ledger.hpp"
#include "link.hpp"
#include "mpipool/options.hpp"

namespace mpipool::detail {

struct crew {
  std::unique_ptr<link> workers;
  slot_grant grant;
  std::vector<std::string> hosts;  // the placement it was asked for; reuse needs the same
  bool lent_own_slot = false;
  std::chrono::steady_clock::time_point parked_at{};
};

/// Reserves slots and spawns a crew; stops parked crews of this process to free
/// slots if the first reservation fails.
std::unique_ptr<crew> start_crew(std::uint32_t workers, const spawn_options& where);

/// A parked crew of exactly `workers` workers and the same placement, if any.
std::unique_ptr<crew> take_warm_crew(std::uint32_t workers, const std::vector<std::string>& hosts);
void park_crew(std::unique_ptr<crew> idle);

/// Tells the crew's workers to exit, disconnects from them, returns their slots.
void stop_crew(crew& done);

/// Stops crews parked longer than MPIPOOL_WARM_SECONDS (default 30).
void expire_warm_crews();
/// Stops every parked crew; true if there were any.
bool stop_warm_crews();

/// How a pool's engine hands its workers back when the session ends.
class session_owner {
 public:
  virtual ~session_owner() = default;
  /// `clean`: the workers answered the release and can serve another session.
  virtual void session_ended(bool clean) = 0;
};

/// Owns a crew for one dynamic pool: parks it after a clean session when reuse is
/// allowed, stops it otherwise (also when the pool failed to start).
class crew_session final : public session_owner {
 public:
  crew_session(std::unique_ptr<crew> workers, bool reuse) : crew_(std::move(workers)), reuse_(reuse) {}
  ~crew_session() override;
  crew_session(const crew_session&) = delete;
  crew_session& operator=(const crew_session&) = delete;
  void session_ended(bool clean) override;
  [[nodiscard]] link& workers() { return *crew_->workers; }

 private:
  std::unique_ptr<crew> crew_;
  bool reuse_;
};

}  // namespace mpipool::detail
