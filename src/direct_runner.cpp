// Runs tasks in the worker rank itself: no isolation, no overhead.

#include <deque>
#include <thread>

#include "backoff.hpp"
#include "chunk_items.hpp"
#include "error_record.hpp"
#include "mpipool/detail/borrowed_bytes.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/task.hpp"
#include "packed_run.hpp"
#include "runner.hpp"

namespace mpipool::detail {

wire::item_status run_item(std::uint32_t task, std::span<const std::byte> args, byte_buffer& out,
                           std::size_t payload_at, const origin& identity) {
  const task_entry* entry = nullptr;
  try {
    entry = &registry::instance().entry(task);
    entry->invoke(args, out);
    return wire::item_status::ok;
  } catch (...) {
    out.resize(payload_at);  // drop a partly written result
    if (auto* borrowed = borrowed_bytes::current(); borrowed != nullptr) borrowed->drop_from(payload_at);
    origin here = identity;
    here.task = entry != nullptr ? entry->name : "#" + std::to_string(task);
    write_error(out, std::current_exception(), here);
    return wire::item_status::failed;
  }
}

namespace {

/// Packed runs of one chunk, written into the results message (packed_sink).
struct batch_sink {
  result_batch& results;
  std::uint64_t chunk;
  void reserve(std::size_t bytes) { results.reserve(bytes); }
  std::byte* open_run(std::uint32_t item, std::size_t max_bytes) { return results.open_run(chunk, item, max_bytes); }
  void close_run(std::uint32_t count, std::size_t bytes) { results.close_run(count, bytes); }
  void failed(std::uint32_t item, std::span<const std::byte> record) {
    results.add(chunk, item, wire::item_status::failed, record);
  }
};

class direct_runner final : public runner {
 public:
  [[nodiscard]] execution mode() const override { return execution::direct; }

  void begin_session(const wire::session_init& init, const origin& identity) override {
    identity_ = identity;
    queue_.clear();
    if (init.initializer) {
      byte_buffer ignored;
      registry::instance().entry(init.initializer->task).invoke(init.initializer->args.view(), ignored);
    }
  }

  void end_session(bool) override { queue_.clear(); }  // a running task cannot be stopped here

  void add(task_chunk chunk) override { queue_.push_back(std::move(chunk)); }

  bool step(result_batch& results) override {
    if (queue_.empty()) return false;
    task_chunk chunk = std::move(queue_.front());
    queue_.pop_front();
    const auto& header = chunk.header;
    const task_entry* entry = registry::instance().find(header.task);
    if (runs_packed(entry, header.item_size, chunk.items, header.count)) {
      running_item running;
      batch_sink sink{results, header.id};
      // A crash here takes the rank and its chunk with it: only a throw needs the item's index.
      run_packed(*entry, chunk.items, header.item_size, 0, header.count, item_tracking::on_failure, running,
                 identity_, sink);
      return true;
    }
    item_cursor items(chunk.items, header.item_size);
    for (std::uint32_t i = 0; i < header.count; ++i) {
      results.add(header.id, i, [&](byte_buffer& out, std::size_t payload_at) {
        std::span<const std::byte> args;
        try {
          args = items.next();
        } catch (...) {  // a malformed chunk fails its items; the worker goes on
          write_error(out, std::current_exception(), identity_);
          return wire::item_status::failed;
        }
        borrowed_bytes_scope large_results_go_uncopied(results.borrowed());
        return run_item(header.task, args, out, payload_at, identity_);
      });
    }
    return true;
  }

  bool busy() const override { return !queue_.empty(); }
  bool busy_after_next_step() const override { return queue_.size() > 1; }  // a step runs a whole chunk

  void idle_wait(backoff& idle) override { idle.pause(); }

 private:
  origin identity_;
  std::deque<task_chunk> queue_;
};

}  // namespace

std::unique_ptr<runner> make_direct_runner() { return std::make_unique<direct_runner>(); }

}  // namespace mpipool::detail
