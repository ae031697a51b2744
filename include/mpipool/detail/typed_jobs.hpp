#pragma once
// Jobs that know their result type: they decode results as they arrive and fill
// the async_result, the vector of a map, or the buffer an imap range reads from.

#include <cstddef>
#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <exception>
#include <memory>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "mpipool/async_result.hpp"
#include "mpipool/detail/codec.hpp"
#include "mpipool/detail/job.hpp"

namespace mpipool::detail {

template <class R>
stored_t<R> decode_result(std::span<const std::byte> bytes) {
  if constexpr (std::is_void_v<R>) {
    if (!bytes.empty()) throw serialization_error("a void task returned a non-empty result");
    return {};
  } else {
    return std::get<0>(decode_values<std::tuple<R>>(bytes));
  }
}

/// Chunks handed out in order: encoded up front, or cut from packed items only when
/// taken (see pack_contiguous).
class prepared_chunks {
 public:
  void add(encoded_chunk chunk) { chunks_.push_back(std::move(chunk)); }

  /// Items that lie in memory as a packed chunk holds them, `item_size` bytes each,
  /// which the caller keeps unchanged until the job has ended.
  void cut_when_taken(std::span<const std::byte> items, std::size_t item_size, std::size_t chunksize) {
    packed_ = items;
    item_size_ = item_size;
    chunk_bytes_ = chunksize * item_size;
  }

  bool next(encoded_chunk& chunk) {
    if (next_ < chunks_.size()) {
      chunk = std::move(chunks_[next_++]);
      return true;
    }
    if (cut_ == packed_.size()) return false;
    cut_into(chunk, packed_, cut_, std::min(chunk_bytes_, packed_.size() - cut_), item_size_);
    cut_ += chunk.items.size() - encoded_chunk::header_room;
    return true;
  }
  [[nodiscard]] bool empty() const { return next_ == chunks_.size() && cut_ == packed_.size(); }

  /// The chunk of `bytes` bytes of packed items at `offset`, copied behind the header room.
  static encoded_chunk cut(std::span<const std::byte> items, std::size_t offset, std::size_t bytes,
                           std::size_t item_size) {
    encoded_chunk chunk;
    cut_into(chunk, items, offset, bytes, item_size);
    return chunk;
  }
  /// The same into `chunk`, whose buffer keeps its memory (the engine recycles item buffers).
  static void cut_into(encoded_chunk& chunk, std::span<const std::byte> items, std::size_t offset,
                       std::size_t bytes, std::size_t item_size) {
    chunk.first_index = offset / item_size;
    chunk.count = static_cast<std::uint32_t>(bytes / item_size);
    chunk.item_size = static_cast<std::uint32_t>(item_size);
    chunk.adopted.clear();
    chunk.items.resize(encoded_chunk::header_room);
    chunk.items.append(items.data() + offset, bytes);
  }

 private:
  std::vector<encoded_chunk> chunks_;
  std::size_t next_ = 0;
  std::span<const std::byte> packed_;
  std::size_t item_size_ = 1;
  std::size_t chunk_bytes_ = 0;
  std::size_t cut_ = 0;  // bytes of packed_ handed out
};

/// Cuts arithmetic items that lie contiguously in memory into packed chunks, one copy
/// each. When the caller waits for the job (a blocking map), a chunk is copied only
/// as it leaves: the first goes out before the rest are copied, and the copies of
/// later chunks overlap the workers' running of earlier ones.
template <class T>
void pack_contiguous(prepared_chunks& chunks, std::span<const T> items, std::size_t chunksize, bool caller_waits) {
  const auto bytes = std::as_bytes(items);
  if (caller_waits) {
    chunks.cut_when_taken(bytes, sizeof(T), chunksize);
    return;
  }
  const std::size_t chunk_bytes = chunksize * sizeof(T);
  for (std::size_t offset = 0; offset < bytes.size(); offset += chunk_bytes) {
    chunks.add(prepared_chunks::cut(bytes, offset, std::min(chunk_bytes, bytes.size() - offset), sizeof(T)));
  }
}

/// apply / apply_async: one item, one async_result.
template <class R>
class single_job final : public job {
 public:
  single_job(job_settings settings, encoded_chunk chunk, std::shared_ptr<result_state<R>> state)
      : job(settings), chunk_(std::move(chunk)), state_(std::move(state)) {}
  bool next_chunk(encoded_chunk& chunk) override {
    if (handed_out_) return false;
    chunk = std::move(chunk_);
    handed_out_ = true;
    return true;
  }
  bool input_done() const override { return handed_out_; }
  void deliver(std::uint64_t, std::span<const std::byte> result) override {
    try {
      state_->set_value(decode_result<R>(result));
    } catch (...) {
      state_->fail(std::current_exception());
    }
  }
  void deliver_error(std::uint64_t, std::exception_ptr error) override { state_->fail(std::move(error)); }
  void finish() override {}
  void abandon(std::exception_ptr error) override { state_->fail(std::move(error)); }

 private:
  encoded_chunk chunk_;
  bool handed_out_ = false;
  std::shared_ptr<result_state<R>> state_;
};

/// Where a map keeps its items' results until the last one is in: each item's
/// outcome, then the values (the first failed item's error is thrown) or, with
/// KeepOutcomes, every outcome.
template <class R, bool KeepOutcomes>
class outcome_store {
 public:
  using value_vector = std::conditional_t<std::is_void_v<R>, std::monostate, std::vector<R>>;
  using output = std::conditional_t<KeepOutcomes, std::vector<outcome<R>>, value_vector>;
  using output_task = std::conditional_t<KeepOutcomes || !std::is_void_v<R>, output, void>;

  explicit outcome_store(std::size_t items) : outcomes_(items) {}

  void put(std::uint64_t index, std::span<const std::byte> result) {
    try {
      outcomes_[index] = outcome<R>::success(decode_result<R>(result));
    } catch (...) {
      outcomes_[index] = outcome<R>::failure(std::current_exception());
    }
  }
  void put_error(std::uint64_t index, std::exception_ptr error) {
    outcomes_[index] = outcome<R>::failure(std::move(error));
  }
  void finish(result_state<output_task>& state) {
    if constexpr (KeepOutcomes) {
      state.set_value(std::move(outcomes_));
    } else {
      for (auto& item : outcomes_) {
        if (!item.ok()) {
          state.fail(item.error());
          return;
        }
      }
      if constexpr (std::is_void_v<R>) {
        state.set_value({});
      } else {
        std::vector<R> values;
        values.reserve(outcomes_.size());
        for (auto& item : outcomes_) values.push_back(item.take());
        state.set_value(std::move(values));
      }
    }
  }

 private:
  std::vector<outcome<R>> outcomes_;
};

/// A map of an arithmetic result keeps the values themselves, so a run of packed
/// results is one copy into the vector the caller gets. Not bool: std::vector<bool>
/// packs bits.
template <class R>
  requires(std::is_arithmetic_v<R> && !std::is_same_v<R, bool>)
class outcome_store<R, false> {
 public:
  using output_task = std::vector<R>;

  explicit outcome_store(std::size_t items) : items_(items) {}

  void put(std::uint64_t index, std::span<const std::byte> result) {
    try {
      values()[index] = decode_result<R>(result);
    } catch (...) {
      put_error(index, std::current_exception());
    }
  }
  void put_error(std::uint64_t index, std::exception_ptr error) {
    if (!failure_ || index < failed_index_) {
      failed_index_ = index;
      failure_ = std::move(error);
    }
  }
  void put_run(std::uint64_t index, std::uint32_t count, std::size_t size, std::span<const std::byte> results) {
    if (size != sizeof(R)) {
      put_error(index, std::make_exception_ptr(serialization_error(
                           "a run of results has " + std::to_string(size) + "-byte items, but " + type_name<R>() +
                           " has " + std::to_string(sizeof(R)) + ": were master and workers built alike?")));
      return;
    }
    std::memcpy(values().data() + index, results.data(), std::size_t{count} * sizeof(R));
  }
  void finish(result_state<output_task>& state) {
    if (failure_) {
      state.fail(failure_);
    } else {
      state.set_value(std::move(values()));
    }
  }

 private:
  /// Sized at the first result, not when the map is submitted: the zero fill then
  /// runs while the workers compute, not before the first chunk leaves (no-op maps
  /// at the default chunksize, 1 worker, direct: 577M -> 617M items/s, medians of 5).
  std::vector<R>& values() {
    if (values_.size() != items_) values_.resize(items_);
    return values_;
  }

  std::size_t items_;
  std::vector<R> values_;
  std::uint64_t failed_index_ = 0;
  std::exception_ptr failure_;  // the error of the first item, by index, that failed
};

/// map / starmap and their async and per-item forms.
template <class R, bool KeepOutcomes>
class batch_job final : public job {
 public:
  using store = outcome_store<R, KeepOutcomes>;
  using output_task = typename store::output_task;

  batch_job(job_settings settings, prepared_chunks input, std::size_t items,
            std::shared_ptr<result_state<output_task>> state)
      : job(settings), input_(std::move(input)), results_(items), state_(std::move(state)) {}

  bool next_chunk(encoded_chunk& chunk) override { return input_.next(chunk); }
  bool input_done() const override { return input_.empty(); }
  void deliver(std::uint64_t index, std::span<const std::byte> result) override { results_.put(index, result); }
  void deliver_run(std::uint64_t index, std::uint32_t count, std::size_t size,
                   std::span<const std::byte> results) override {
    if constexpr (requires { results_.put_run(index, count, size, results); }) {
      results_.put_run(index, count, size, results);  // one copy into the values
    } else {
      job::deliver_run(index, count, size, results);  // item by item
    }
  }
  void deliver_error(std::uint64_t index, std::exception_ptr error) override {
    results_.put_error(index, std::move(error));
  }
  void finish() override { results_.finish(*state_); }
  void abandon(std::exception_ptr error) override { state_->fail(std::move(error)); }

 private:
  prepared_chunks input_;
  store results_;
  std::shared_ptr<result_state<output_task>> state_;
};

}  // namespace mpipool::detail
