#include "pipe_frames.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
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

bool frame_reader::fill(int fd) {
  for (;;) {
    buffer_.reserve(buffer_.size() + 65536);
    const std::size_t before = buffer_.size();
    buffer_.resize(before + 65536);
    const ssize_t got = ::read(fd, buffer_.data() + before, 65536);
    buffer_.resize(before + static_cast<std::size_t>(got > 0 ? got : 0));
    if (got > 0) continue;
    if (got == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

bool frame_reader::fill_blocking(int fd) {
  for (;;) {
    if (consumed_ < buffer_.size()) {
      // A whole frame buffered already?
      const std::size_t available = buffer_.size() - consumed_;
      if (available >= frame_header_bytes) {
        std::uint64_t length = 0;
        std::memcpy(&length, buffer_.data() + consumed_ + 1, sizeof length);
        if (available - frame_header_bytes >= length) return true;
      }
    }
    const std::size_t before = buffer_.size();
    buffer_.resize(before + 65536);
    const ssize_t got = ::read(fd, buffer_.data() + before, 65536);
    buffer_.resize(before + static_cast<std::size_t>(got > 0 ? got : 0));
    if (got == 0) return false;
    if (got < 0 && errno != EINTR) return false;
  }
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

bool frame_writer::flush(int fd) {
  std::lock_guard lock(mutex_);
  while (!queue_.empty()) {
    const auto& front = queue_.front();
    const ssize_t wrote = ::write(fd, front.data() + offset_, front.size() - offset_);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    offset_ += static_cast<std::size_t>(wrote);
    if (offset_ == front.size()) {
      queue_.pop_front();
      offset_ = 0;
    }
  }
  return true;
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

bool write_all(int fd, std::span<const std::byte> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd wait{fd, POLLOUT, 0};
        ::poll(&wait, 1, 100);
        continue;
      }
      return false;
    }
    done += static_cast<std::size_t>(wrote);
  }
  return true;
}

}  // namespace mpipool::detail
