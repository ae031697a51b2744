#pragma once
// Jobs that know their result type: they decode results as they arrive and fill
// the async_result, the vector of a map, or the buffer an imap range reads from.

#include <cstddef>
#include <deque>
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

/// apply / apply_async: one item, one async_result.
template <class R>
class single_job final : public job {
 public:
  single_job(job_settings settings, encoded_chunk chunk, std::shared_ptr<result_state<R>> state)
      : job(settings), state_(std::move(state)) {
    input_.add(std::move(chunk));
  }
  bool next_chunk(encoded_chunk& chunk) override { return input_.next(chunk); }
  bool input_done() const override { return input_.empty(); }
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
  prepared_chunks input_;
  std::shared_ptr<result_state<R>> state_;
};

/// map / starmap and their async and per-item forms. The output is either the
/// values (the first failed item's error is thrown) or every item's outcome.
template <class R, bool KeepOutcomes>
class batch_job final : public job {
 public:
  using value_vector = std::conditional_t<std::is_void_v<R>, std::monostate, std::vector<R>>;
  using output = std::conditional_t<KeepOutcomes, std::vector<outcome<R>>, value_vector>;
  using output_task = std::conditional_t<KeepOutcomes || !std::is_void_v<R>, output, void>;

  batch_job(job_settings settings, prepared_chunks input, std::size_t items,
            std::shared_ptr<result_state<output_task>> state)
      : job(settings), input_(std::move(input)), outcomes_(items), state_(std::move(state)) {}

  bool next_chunk(encoded_chunk& chunk) override { return input_.next(chunk); }
  bool input_done() const override { return input_.empty(); }
  void deliver(std::uint64_t index, std::span<const std::byte> result) override {
    try {
      outcomes_[index] = outcome<R>::success(decode_result<R>(result));
    } catch (...) {
      outcomes_[index] = outcome<R>::failure(std::current_exception());
    }
  }
  void deliver_error(std::uint64_t index, std::exception_ptr error) override {
    outcomes_[index] = outcome<R>::failure(std::move(error));
  }
  void finish() override {
    if constexpr (KeepOutcomes) {
      state_->set_value(std::move(outcomes_));
    } else {
      for (auto& item : outcomes_) {
        if (!item.ok()) {
          state_->fail(item.error());
          return;
        }
      }
      if constexpr (std::is_void_v<R>) {
        state_->set_value({});
      } else {
        std::vector<R> values;
        values.reserve(outcomes_.size());
        for (auto& item : outcomes_) values.push_back(item.take());
        state_->set_value(std::move(values));
      }
    }
  }
  void abandon(std::exception_ptr error) override { state_->fail(std::move(error)); }

 private:
  prepared_chunks input_;
  std::vector<outcome<R>> outcomes_;
  std::shared_ptr<result_state<output_task>> state_;
};

}  // namespace mpipool::detail
