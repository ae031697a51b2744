#pragma once
// The worker side of the protocol: serves pool sessions for one master until
// it says stop. Static workers (ranks 1..N-1) and spawned workers run the same loop.

#include <memory>
#include <vector>

#include "link.hpp"
#include "mpipool/errors.hpp"
#include "runner.hpp"

namespace mpipool::detail {

class worker {
 public:
  /// `identity` describes this process; depth and pool size are filled in per session.
  worker(link& master, origin identity);

  /// Returns when the master sends stop.
  void serve();

 private:
  enum class session_end { released, stopped };

  /// Answers an init message; true if the session started.
  bool start_session(const message& init);
  session_end serve_session();
  /// Handles one message during a session; returns how the session ends, if it does.
  std::optional<session_end> handle(message& incoming);
  void add_tasks(message& incoming);
  void flush();
  void send_released();
  /// Offers the master the lane to a new task process, if the runner has one.
  void offer_lane();

  link& master_;
  origin identity_;
  std::unique_ptr<runner> runner_;
  result_batch results_;
  std::vector<std::uint64_t> accepted_;  // chunks of the tasks message being read, for a rejection
};

}  // namespace mpipool::detail
