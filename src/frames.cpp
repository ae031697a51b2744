#include "frames.hpp"

#include <cstring>

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

void put_chunk_head(byte_buffer& out, const chunk_frame_head& head) {
  out.put(head.header.id);
  out.put(head.header.task);
  out.put(head.first);
  out.put(head.header.count);
  out.put(head.header.timeout_ms);
  out.put(head.header.item_size);
}

chunk_frame_head get_chunk_head(byte_reader& in) {
  chunk_frame_head head;
  head.header.id = in.get<std::uint64_t>();
  head.header.task = in.get<std::uint32_t>();
  head.first = in.get<std::uint32_t>();
  head.header.count = in.get<std::uint32_t>();
  head.header.timeout_ms = in.get<std::int64_t>();
  head.header.item_size = in.get<std::uint32_t>();
  return head;
}

item_result_view read_item_result(std::span<const std::byte> body) {
  byte_reader in(body);
  item_result_view result;
  result.chunk = in.get<std::uint64_t>();
  result.item = in.get<std::uint32_t>();
  result.status = static_cast<wire::item_status>(in.get<std::uint8_t>());
  result.payload = in.take(in.remaining());
  return result;
}

byte_buffer empty_frame(frame_kind kind) {
  byte_buffer out;
  end_frame(out, begin_frame(out, kind));
  return out;
}

bool frame_reader::fill(shm_ring& ring) {
  const bool ended = ring.at_end();  // before reading: what was written before close is then read below
  // Frames cut before are done with: drop them, keeping only a frame that is still arriving.
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
  } else if (consumed_ != 0) {
    const std::size_t rest = buffer_.size() - consumed_;
    std::memmove(buffer_.data(), buffer_.data() + consumed_, rest);
    buffer_.resize(rest);
  }
  consumed_ = 0;
  const std::size_t available = ring.readable();
  if (available != 0) {
    const std::size_t before = buffer_.size();
    buffer_.resize(before + available);
    buffer_.resize(before + ring.read_some({buffer_.data() + before, available}));
  }
  return !ended;
}

std::optional<frame_view> cut_frame(std::span<const std::byte>& bytes) {
  if (bytes.size() < frame_header_bytes) return std::nullopt;
  byte_reader header(bytes.first(frame_header_bytes));
  const auto kind = static_cast<frame_kind>(header.get<std::uint8_t>());
  const auto length = header.get<std::uint64_t>();
  if (bytes.size() - frame_header_bytes < length) return std::nullopt;
  const frame_view cut{kind, bytes.subspan(frame_header_bytes, length)};
  bytes = bytes.subspan(frame_header_bytes + length);
  return cut;
}

std::optional<frame_view> frame_reader::next() {
  auto unread = buffer_.view().subspan(consumed_);
  const auto cut = cut_frame(unread);
  if (cut) consumed_ = buffer_.size() - unread.size();
  return cut;
}

void frame_writer::queue(byte_buffer frames) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(frames));
}

void frame_writer::flush(shm_ring& ring) {
  std::lock_guard lock(mutex_);
  flush_locked(ring);
}

void frame_writer::flush_locked(shm_ring& ring) {
  while (!queue_.empty()) {
    const auto& front = queue_.front();
    const std::size_t wrote = ring.write_some(front.view().subspan(offset_));
    offset_ += wrote;
    if (offset_ < front.size()) return;  // the ring is full; the rest goes later
    queue_.pop_front();
    offset_ = 0;
  }
}

void frame_writer::write(shm_ring& ring, byte_buffer& frames) {
  std::lock_guard lock(mutex_);
  flush_locked(ring);
  const std::size_t wrote = queue_.empty() ? ring.write_some(frames.view()) : 0;
  if (wrote == frames.size()) {
    frames.clear();
    return;
  }
  if (queue_.empty()) offset_ = wrote;
  queue_.push_back(std::move(frames));
  frames = byte_buffer();
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

void write_all(shm_ring& ring, std::span<const std::byte> bytes, bool wake) {
  while (!bytes.empty()) {
    const std::size_t wrote = ring.write_some(bytes, wake);
    bytes = bytes.subspan(wrote);
    if (!bytes.empty()) ring.wait_writable(std::chrono::milliseconds(10));
  }
}

}  // namespace mpipool::detail
