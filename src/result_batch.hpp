#pragma once
// A worker's results message under construction. Results are written straight
// into it, so a large result is copied once, from the task into the message, or
// not at all when the runner lets it borrow (borrowed_bytes.hpp).

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "mpipool/detail/borrowed_bytes.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "wire.hpp"

namespace mpipool::detail {

class result_batch {
 public:
  using clock = std::chrono::steady_clock;

  /// Appends one item; `produce` writes the payload into the buffer it gets and returns the status.
  template <class Produce>
  void add(std::uint64_t chunk, std::uint32_t item, Produce&& produce) {
    start_if_empty();
    buffer_.put(chunk);
    buffer_.put(item);
    const std::size_t status_at = buffer_.size();
    buffer_.put(static_cast<std::uint8_t>(0));
    const std::size_t length_at = buffer_.size();
    buffer_.put<std::uint64_t>(0);
    const std::size_t payload_at = buffer_.size();
    const wire::item_status status = produce(buffer_, payload_at);
    buffer_.put_at(status_at, static_cast<std::uint8_t>(status));
    buffer_.put_at<std::uint64_t>(length_at, buffer_.size() - payload_at + borrowed_.bytes_from(payload_at));
    ++count_;
  }

  /// Appends one item whose payload is already encoded.
  void add(std::uint64_t chunk, std::uint32_t item, wire::item_status status, std::span<const std::byte> payload) {
    start_if_empty();
    wire::put_result(buffer_, chunk, item, status, payload);
    ++count_;
  }

  /// Room for a run of packed results of `chunk` from `item` (see packed_sink in
  /// packed_run.hpp): the typed loop writes them into the message itself.
  std::byte* open_run(std::uint64_t chunk, std::uint32_t item, std::size_t max_bytes) {
    start_if_empty();
    run_start_ = buffer_.size();
    wire::put_result(buffer_, chunk, item, wire::item_status::ok_run, {});  // its length is set by close_run
    run_payload_at_ = buffer_.size();
    buffer_.resize(run_payload_at_ + max_bytes);
    return buffer_.data() + run_payload_at_;
  }
  /// Room for `bytes` more, so that a batch of results added one by one is not
  /// copied again each time the message doubles.
  void reserve(std::size_t bytes) {
    start_if_empty();
    buffer_.reserve(buffer_.size() + bytes);
  }
  /// Ends the run opened last: `count` results in `bytes`; none takes the record back.
  void close_run(std::uint32_t count, std::size_t bytes) {
    if (count == 0) {
      buffer_.resize(run_start_);
      return;
    }
    buffer_.resize(run_payload_at_ + bytes);
    buffer_.put_at<std::uint64_t>(run_payload_at_ - sizeof(std::uint64_t), bytes);  // put_result's length
    ++count_;
  }

  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] std::size_t bytes() const { return buffer_.size() + borrowed_.bytes_from(0); }
  [[nodiscard]] clock::duration age() const { return empty() ? clock::duration{} : clock::now() - started_; }

  /// Results that a direct runner lets the message send from their own memory.
  borrowed_bytes& borrowed() { return borrowed_; }

  struct finished {
    byte_buffer body;
    std::vector<borrowed_span> borrowed;
  };
  /// The finished message; the batch starts empty again.
  finished take() {
    buffer_.put_at<std::uint32_t>(0, count_);
    count_ = 0;
    finished done{std::move(buffer_), borrowed_.take()};
    buffer_ = byte_buffer();
    return done;
  }
  /// Gives back the memory of a message taken and sent: the next one is written into it.
  void reuse(byte_buffer sent) {
    // A large one would hold its memory; large_blocks recycles those anyway.
    if (count_ == 0 && sent.capacity() < large_blocks::threshold && sent.capacity() > buffer_.capacity()) {
      buffer_ = std::move(sent);
    }
  }

 private:
  void start_if_empty() {
    if (count_ != 0) return;
    buffer_.clear();
    buffer_.put<std::uint32_t>(0);
    started_ = clock::now();
  }

  byte_buffer buffer_;
  borrowed_bytes borrowed_;
  std::size_t run_start_ = 0;       // where the open run's record begins
  std::size_t run_payload_at_ = 0;  // where its payload begins
  std::uint32_t count_ = 0;
  clock::time_point started_{};
};

}  // namespace mpipool::detail
