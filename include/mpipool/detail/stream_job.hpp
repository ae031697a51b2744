#pragma once
// The job behind imap and imap_unordered. It pulls its input lazily, on the
// engine's thread, and stops pulling while too many results wait unread, so
// mapping over ten million items holds only a window of them in memory.

#include <cstddef>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <span>
#include <utility>

#include "mpipool/async_result.hpp"
#include "mpipool/detail/job.hpp"
#include "mpipool/detail/typed_jobs.hpp"

namespace mpipool::detail {

/// Results waiting for the consumer, in input order or in arrival order.
template <class R>
class stream_buffer {
 public:
  stream_buffer(bool ordered, std::size_t limit, std::weak_ptr<progress_driver> driver)
      : ordered_(ordered), limit_(limit), driver_(std::move(driver)) {}

  // Producer side (engine thread).
  [[nodiscard]] bool has_room() {
    std::lock_guard lock(mutex_);
    const bool room = issued_ - consumed_ < limit_ && !cancelled_;
    if (!room) producer_blocked_ = true;
    return room;
  }
  [[nodiscard]] bool cancelled() {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }
  void note_issued(std::size_t items) {
    std::lock_guard lock(mutex_);
    issued_ += items;
  }
  void push(std::uint64_t index, outcome<R> item) {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    if (ordered_) {
      by_index_.emplace(index, std::move(item));
    } else {
      arrived_.push_back(std::move(item));
    }
  }
  void finish(std::exception_ptr error = nullptr) {
    std::lock_guard lock(mutex_);
    finished_ = true;
    abandoned_ = std::move(error);
  }

  /// The consumer stops reading: no more input is pulled, and what arrives is dropped.
  void cancel() {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    by_index_.clear();
    arrived_.clear();
  }

  /// Consumer side: the next outcome, or nullopt at the end. Blocks until one is
  /// ready. Sets `freed_blocked_producer` when the producer waits for this room.
  std::optional<outcome<R>> pop(bool& freed_blocked_producer) {
    for (;;) {
      wait_until(driver_, [this] { return poppable(); }, progress_driver::clock::time_point::max());
      std::unique_lock lock(mutex_);
      std::optional<outcome<R>> item;
      if (ordered_) {
        auto head = by_index_.find(next_index_);
        if (head != by_index_.end()) {
          item.emplace(std::move(head->second));
          by_index_.erase(head);
          ++next_index_;
        }
      } else if (!arrived_.empty()) {
        item.emplace(std::move(arrived_.front()));
        arrived_.pop_front();
      }
      if (item) {
        ++consumed_;
        freed_blocked_producer = std::exchange(producer_blocked_, false);
        return item;
      }
      if (abandoned_) std::rethrow_exception(abandoned_);
      if (finished_ && consumed_ == issued_) return std::nullopt;
    }
  }

 private:
  /// True when pop() has something to return: an item, an error, or the end.
  bool poppable() {
    std::lock_guard lock(mutex_);
    const bool has_item = ordered_ ? by_index_.count(next_index_) != 0 : !arrived_.empty();
    return has_item || abandoned_ || (finished_ && consumed_ == issued_);
  }

  std::mutex mutex_;
  const bool ordered_;
  const std::size_t limit_;
  std::size_t issued_ = 0;
  std::size_t consumed_ = 0;
  std::uint64_t next_index_ = 0;
  bool finished_ = false;
  bool cancelled_ = false;
  bool producer_blocked_ = false;
  std::exception_ptr abandoned_;
  std::map<std::uint64_t, outcome<R>> by_index_;
  std::deque<outcome<R>> arrived_;
  std::weak_ptr<progress_driver> driver_;
};

/// `Arg` is the task's parameter type; each input element is converted to it.
template <class R, class Arg, class View>
class stream_job final : public job {
 public:
  stream_job(job_settings settings, View input, std::size_t chunksize, std::shared_ptr<stream_buffer<R>> buffer)
      : job(settings), input_(std::move(input)), chunksize_(chunksize), buffer_(std::move(buffer)) {}

  bool next_chunk(encoded_chunk& chunk) override {
    if (!position_) position_.emplace(std::ranges::begin(input_));
    if (exhausted_ || !buffer_->has_room()) return false;
    chunk.first_index = next_index_;
    auto& position = *position_;
    const auto end = std::ranges::end(input_);
    while (chunk.count < chunksize_ && position != end) {
      const Arg arg(*position);
      append_item(chunk, arg);
      ++position;
    }
    exhausted_ = position == end;
    next_index_ += chunk.count;
    buffer_->note_issued(chunk.count);
    return chunk.count != 0;
  }
  bool input_done() const override { return exhausted_ || buffer_->cancelled(); }
  void deliver(std::uint64_t index, std::span<const std::byte> result) override {
    try {
      buffer_->push(index, outcome<R>::success(decode_result<R>(result)));
    } catch (...) {
      buffer_->push(index, outcome<R>::failure(std::current_exception()));
    }
  }
  void deliver_error(std::uint64_t index, std::exception_ptr error) override {
    buffer_->push(index, outcome<R>::failure(std::move(error)));
  }
  void finish() override { buffer_->finish(); }
  void abandon(std::exception_ptr error) override { buffer_->finish(std::move(error)); }

 private:
  View input_;
  std::optional<std::ranges::iterator_t<View>> position_;
  bool exhausted_ = false;
  std::size_t chunksize_;
  std::uint64_t next_index_ = 0;
  std::shared_ptr<stream_buffer<R>> buffer_;
};

}  // namespace mpipool::detail
