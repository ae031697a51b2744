#pragma once
// The seam between a worker rank's protocol loop and the place where user code
// runs: in the rank itself (direct_runner) or in a supervised task process.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "mpipool/detail/byte_buffer.hpp"
#include "backoff.hpp"
#include "lane.hpp"
#include "mpipool/errors.hpp"
#include "result_batch.hpp"
#include "wire.hpp"

namespace mpipool::detail {

/// One chunk received from the master; `items` points into `message`.
struct task_chunk {
  wire::chunk_header header;
  std::shared_ptr<const byte_buffer> message;
  std::span<const std::byte> items;
};

class runner {
 public:
  virtual ~runner() = default;
  /// The mode it runs tasks in; a worker keeps its runner for sessions of that mode.
  [[nodiscard]] virtual execution mode() const = 0;
  /// Prepares for a session: runs the initializer. Throws what the initializer threw.
  virtual void begin_session(const wire::session_init& init, const origin& identity) = 0;
  /// Drops queued chunks; with `kill_running`, also stops a task that is running.
  virtual void end_session(bool kill_running) = 0;
  virtual void add(task_chunk chunk) = 0;
  /// Makes progress without waiting for anything; true if it did something.
  virtual bool step(result_batch& results) = 0;
  [[nodiscard]] virtual bool busy() const = 0;
  /// Whether work is left after the next step(): only then does the worker time the
  /// step (its duration steers result batching), two clock reads a lone task saves.
  [[nodiscard]] virtual bool busy_after_next_step() const = 0;
  /// Waits a little, as `idle` says (spin, or sleep): less when there is something to do.
  virtual void idle_wait(backoff& idle) = 0;
  /// A lane for the worker to offer the master (tag_lane): once for each new task
  /// process, and again to the master of each new session that a kept one serves.
  virtual std::optional<lane_offer> take_lane_offer() { return std::nullopt; }
};

/// Runs one item of a task: the result, or the error record, is written to `out`.
wire::item_status run_item(std::uint32_t task, std::span<const std::byte> args, byte_buffer& out,
                           std::size_t payload_at, const origin& identity);

std::unique_ptr<runner> make_direct_runner();
std::unique_ptr<runner> make_supervised_runner();

}  // namespace mpipool::detail
