#pragma once
// The master's buffers for chunks' items, kept when a chunk finishes for the next
// one. A chunk of one item cost two allocations and two frees (its buffer, and the
// block a shared_ptr needs), about a sixth of the master's work per one-item chunk.
// Only small buffers are kept (one item of a few numbers takes 52 bytes), so the
// spares hold at most max_kept x max_bytes = 4 MiB.

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "mpipool/detail/byte_buffer.hpp"

namespace mpipool::detail {

class item_buffers {
 public:
  static constexpr std::size_t max_kept = 1024;
  static constexpr std::size_t max_bytes = 4096;

  /// An empty buffer: a kept one, with its memory, or a new one.
  std::shared_ptr<byte_buffer> take() {
    if (spare_.empty()) return std::make_shared<byte_buffer>();
    auto items = std::move(spare_.back());
    spare_.pop_back();
    return items;
  }

  /// Keeps `items` for a later take(), unless someone else holds it too (the link
  /// holds a large chunk's buffer until it is sent), it is large, or enough are kept.
  void give_back(std::shared_ptr<byte_buffer> items) {
    if (!items || items.use_count() != 1 || items->capacity() > max_bytes || spare_.size() >= max_kept) return;
    // use_count() reads relaxed: order our reuse after the release by the link's last holder.
    std::atomic_thread_fence(std::memory_order_acquire);
    items->clear();
    spare_.push_back(std::move(items));
  }

  [[nodiscard]] std::size_t kept() const { return spare_.size(); }

 private:
  std::vector<std::shared_ptr<byte_buffer>> spare_;
};

}  // namespace mpipool::detail
