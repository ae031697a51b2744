#include "frames.hpp"

#include "mpipool/detail/byte_reader.hpp"

namespace mpipool::detail {

std::size_t begin_frame(byte_buffer& out, frame_kind kind) {
  const std::size_t start = out.size();
  out.put(static_cast<std::uint8_t>(kind));
  out.put<std::uint64_t>(0);
  return start;
}

void end_frame(byte_buffer& out, std::size_t start) {
  out.put_at<std::uint64_t>(start + 1, out.size() - start - frame_header_bytes);
}

bool frame_reader::fill(shm_ring& ring) {
  const bool ended = ring.at_end();  // before reading: what was written before close is then read below
  const std::size_t available = ring.readable();
  if (available != 0) {
    const std::size_t before = buffer_.size();
    buffer_.resize(before + available);
    buffer_.resize(before + ring.read_some({buffer_.data() + before, available}));
  }
  return !ended;
}

std::optional<frame> frame_reader::next() {
  const std::size_t available = buffer_.size() - consumed_;
  if (available < frame_header_bytes) return std::nullopt;
  byte_reader header(buffer_.view().subspan(consumed_, frame_header_bytes));
  const auto kind = static_cast<frame_kind>(header.get<std::uint8_t>());
  const auto length = header.get<std::uint64_t>();
  if (available - frame_header_bytes < length) return std::nullopt;
  frame whole{kind, byte_buffer()};
  whole.body.append(buffer_.data() + consumed_ + frame_header_bytes, length);
  consumed_ += frame_header_bytes + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > (std::size_t{1} << 20)) {
    // Move the unread tail to the front so the buffer does not grow for ever.
    byte_buffer rest;
    rest.append(buffer_.data() + consumed_, buffer_.size() - consumed_);
    buffer_ = std::move(rest);
    consumed_ = 0;
  }
  return whole;
}

void frame_writer::queue(byte_buffer frames) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(frames));
}

void frame_writer::flush(shm_ring& ring) {
  std::lock_guard lock(mutex_);
  while (!queue_.empty()) {
    const auto& front = queue_.front();
    const std::size_t wrote = ring.write_some(front.view().subspan(offset_));
    offset_ += wrote;
    if (offset_ < front.size()) return;  // the ring is full; the rest goes later
    queue_.pop_front();
    offset_ = 0;
  }
}

bool frame_writer::pending() const {
  std::lock_guard lock(mutex_);
  return !queue_.empty();
}

void frame_writer::clear() {
  std::lock_guard lock(mutex_);
  queue_.clear();
  offset_ = 0;
}

void write_all(shm_ring& ring, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const std::size_t wrote = ring.write_some(bytes);
    bytes = bytes.subspan(wrote);
    if (!bytes.empty()) ring.wait_writable(std::chrono::milliseconds(10));
  }
}

}  // namespace mpipool::detail
