#pragma once
// The rank's side of proxy pools: it opens real pools for its task process,
// submits the chunks the task process sends, and relays each result back as a
// frame. When the task process dies, its pools are terminated with it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "mpipool/detail/job.hpp"
#include "frames.hpp"

namespace mpipool::detail {

class proxy_broker {
 public:
  /// Frames to the task process go through `writer`; `flush` pushes them into its ring.
  proxy_broker(frame_writer& writer, std::function<void()> flush) : writer_(writer), flush_(std::move(flush)) {}
  ~proxy_broker() { close_all(true); }
  proxy_broker(const proxy_broker&) = delete;
  proxy_broker& operator=(const proxy_broker&) = delete;

  /// Handles a proxy_open, proxy_submit or proxy_close frame.
  void handle(const frame& incoming);
  /// Closes every pool; `terminate` stops their running tasks (the task process is gone).
  void close_all(bool terminate);
  /// True when no pool opened by the task process is open.
  [[nodiscard]] bool empty() const { return pools_.empty(); }

 private:
  void open(byte_reader& in);
  void submit(byte_reader& in);
  void send(byte_buffer frames);

  frame_writer& writer_;
  std::function<void()> flush_;
  std::map<std::uint32_t, std::shared_ptr<executor>> pools_;
};

}  // namespace mpipool::detail
