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

/// Chunks encoded up front, handed out in order.
class prepared_chunks {
 public:
  void add(encoded_chunk chunk) { chunks_.push_back(std::move(chunk)); }
  bool next(encoded_chunk& chunk) {
    if (empty()) return false;
    chunk = std::move(chunks_[next_++]);
    return true;
  }
  [[nodiscard]] bool empty() const { return next_ == chunks_.size(); }

 private:
  std::vector<encoded_chunk> chunks_;
  std::size_t next_ = 0;
};

/// Cuts arithmetic items that lie contiguously in memory into packed chunks, one copy each.
template <class T>
void pack_contiguous(prepared_chunks& chunks, std::span<const T> items, std::size_t chunksize) {
  for (std::size_t first = 0; first < items.size(); first += chunksize) {
    const std::size_t count = std::min(chunksize, items.size() - first);
    encoded_chunk chunk;
    chunk.first_index = first;
    chunk.count = static_cast<std::uint32_t>(count);
    chunk.item_size = sizeof(T);
    chunk.items.resize(encoded_chunk::header_room);
    chunk.items.append(items.data() + first, count * sizeof(T));
    chunks.add(std::move(chunk));
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
