#include "proxy_broker.hpp"

#include <cstdio>
#include <vector>

#include "pool_setup.hpp"
#include "error_record.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {

/// One chunk a task process submitted; each result goes straight back as a frame.
class relay_job final : public job {
 public:
  using send_frames = std::function<void(byte_buffer)>;
  relay_job(job_settings settings, std::uint32_t proxy, std::uint64_t job_id, encoded_chunk chunk, send_frames send)
      : job(settings), proxy_(proxy), job_id_(job_id), send_(std::move(send)), delivered_(chunk.count, false) {
    first_ = chunk.first_index;
    chunk_ = std::move(chunk);
  }
  bool next_chunk(encoded_chunk& chunk) override {
    if (taken_) return false;
    taken_ = true;
    chunk = std::move(chunk_);
    return true;
  }
  bool input_done() const override { return taken_; }
  void deliver(std::uint64_t index, std::span<const std::byte> result) override {
    relay(index, wire::item_status::ok, result);
  }
  /// A run of packed results stays one frame: [u32 count][results], as on the wire.
  void deliver_run(std::uint64_t index, std::uint32_t count, std::size_t size,
                   std::span<const std::byte> results) override {
    byte_buffer run;
    run.put(count);
    run.append(results.data(), std::size_t{count} * size);
    for (std::uint32_t i = 1; i < count; ++i) delivered_[index + i - first_] = true;
    relay(index, wire::item_status::ok_run, run.view());
  }
  void deliver_error(std::uint64_t index, std::exception_ptr error) override {
    byte_buffer record;
    write_relayed(record, error);
    relay(index, wire::item_status::failed, record.view());
  }
  void finish() override {}
  void abandon(std::exception_ptr error) override {
    for (std::size_t i = 0; i < delivered_.size(); ++i) {
      if (!delivered_[i]) deliver_error(first_ + i, error);
    }
  }

 private:
  void relay(std::uint64_t index, wire::item_status status, std::span<const std::byte> payload) {
    delivered_[index - first_] = true;
    byte_buffer out;
    const auto start = begin_frame(out, frame_kind::proxy_result);
    out.put(proxy_);
    out.put(job_id_);
    out.put(index);
    out.put(static_cast<std::uint8_t>(status));
    out.append(payload.data(), payload.size());
    end_frame(out, start);
    send_(std::move(out));
  }

  std::uint32_t proxy_;
  std::uint64_t job_id_;
  send_frames send_;
  encoded_chunk chunk_;
  std::uint64_t first_ = 0;
  bool taken_ = false;
  std::vector<bool> delivered_;
};

}  // namespace

void proxy_broker::send(byte_buffer frames) {
  writer_.queue(std::move(frames));
  flush_();  // the rank's loop flushes the rest if the ring is full
}

void proxy_broker::handle(const frame& incoming) {
  byte_reader in(incoming.body.view());
  switch (incoming.kind) {
    case frame_kind::proxy_open:
      open(in);
      break;
    case frame_kind::proxy_submit:
      submit(in);
      break;
    case frame_kind::proxy_close: {
      const auto id = in.get<std::uint32_t>();
      const bool terminate = in.get<std::uint8_t>() != 0;
      auto found = pools_.find(id);
      if (found == pools_.end()) break;
      auto pool = std::move(found->second);
      pools_.erase(found);
      try {
        if (terminate) pool->terminate();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "mpipool: warning: terminating a task's sub-pool failed: %s\n", e.what());
      }
      break;  // the engine's destructor releases the workers
    }
    default:
      break;
  }
}

void proxy_broker::open(byte_reader& in) {
  const auto id = in.get<std::uint32_t>();
  const auto workers = in.get<std::uint32_t>();
  byte_buffer reply;
  const auto start = begin_frame(reply, frame_kind::proxy_opened);
  reply.put(id);
  try {
    const pool_options options = wire::get_pool_options(in);
    auto pool = make_dynamic_executor(workers, options);
    reply.put<std::uint8_t>(1);
    reply.put(static_cast<std::uint32_t>(pool->workers()));
    pools_[id] = std::move(pool);
  } catch (...) {
    reply.resize(start + frame_header_bytes + sizeof(id));
    reply.put<std::uint8_t>(0);
    write_relayed(reply, std::current_exception());
  }
  end_frame(reply, start);
  send(std::move(reply));
}

void proxy_broker::submit(byte_reader& in) {
  const auto id = in.get<std::uint32_t>();
  const auto job_id = in.get<std::uint64_t>();
  job_settings settings;
  settings.task = in.get<std::uint32_t>();
  settings.retries = in.get<std::int32_t>();
  settings.timeout = std::chrono::milliseconds(in.get<std::int64_t>());
  encoded_chunk chunk;
  chunk.first_index = in.get<std::uint64_t>();
  chunk.count = in.get<std::uint32_t>();
  chunk.item_size = in.get<std::uint32_t>();
  const auto items = in.take(in.remaining());
  chunk.items.resize(encoded_chunk::header_room);
  chunk.items.append(items.data(), items.size());
  auto found = pools_.find(id);
  if (found == pools_.end()) return;
  auto relay = std::make_shared<relay_job>(settings, id, job_id, std::move(chunk),
                                           [this](byte_buffer frames) { send(std::move(frames)); });
  try {
    found->second->submit(relay);
  } catch (...) {
    relay->abandon(std::current_exception());
  }
}

void proxy_broker::close_all(bool terminate) {
  auto pools = std::move(pools_);
  pools_.clear();
  for (auto& [id, pool] : pools) {
    try {
      if (terminate) pool->terminate();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mpipool: warning: stopping a task's sub-pool failed: %s\n", e.what());
    }
  }
}

}  // namespace mpipool::detail
