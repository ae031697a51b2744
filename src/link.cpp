#include "link.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>

#include "coarse_clock.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "mpipool/errors.hpp"
#include "mpi_check.hpp"
#include "wire.hpp"

namespace mpipool::detail {

link::link(MPI_Comm comm) : comm_(comm) {
  return_errors(comm_);
  int is_inter = 0;
  check(MPI_Comm_test_inter(comm_, &is_inter), "MPI_Comm_test_inter");
  check(is_inter ? MPI_Comm_remote_size(comm_, &remote_size_) : MPI_Comm_size(comm_, &remote_size_),
        "MPI_Comm_remote_size");
  last_heard_ = std::make_unique<std::atomic<clock::rep>[]>(static_cast<std::size_t>(remote_size_));
  for (int r = 0; r < remote_size_; ++r) heard(r);  // a new link counts as fresh news
  posted_body_.resize(posted_bytes);
  post_receive();
}

void link::post_receive() {
  check(MPI_Irecv(posted_body_.data(), static_cast<int>(posted_bytes), MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG,
                  comm_, &posted_),
        "MPI_Irecv");
}

void link::heard(int source) {
  // Coarse: peer timeouts are seconds, and this runs for every message received.
  if (source >= 0 && source < remote_size_) last_heard_[source] = coarse_now().time_since_epoch().count();
}

link::clock::time_point link::last_heard(int source) const {
  return clock::time_point(clock::duration(last_heard_[source].load()));
}

int link::drain_heartbeats() {
  int drained = 0;
  for (;;) {
    int found = 0;
    MPI_Message handle = MPI_MESSAGE_NULL;
    MPI_Status status;
    if (MPI_Improbe(MPI_ANY_SOURCE, wire::tag_heartbeat, comm_, &found, &handle, &status) != MPI_SUCCESS || !found) {
      return drained;
    }
    MPI_Mrecv(nullptr, 0, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
    heard(status.MPI_SOURCE);
    ++drained;
  }
}

void link::send_heartbeats() {
  for (int r = 0; r < remote_size_; ++r) send(r, wire::tag_heartbeat, byte_buffer());
}

link::~link() {
  if (posted_ != MPI_REQUEST_NULL) {
    MPI_Cancel(&posted_);
    if (broken_) {
      // A message of a dead process may be half in it: never wait for the rest, and
      // leave MPI its memory.
      MPI_Request_free(&posted_);
      static_cast<void>(new byte_buffer(std::move(posted_body_)));
    } else {
      MPI_Wait(&posted_, MPI_STATUS_IGNORE);  // unmatched (cancelled) or arriving from a live process
    }
  }
  // Sends still pending belong to peers that are gone; MPI reclaims them at finalize.
  // It may still read their memory until then, so what they send from is left alive.
  for (auto& request : requests_) MPI_Request_free(&request);
  if (!owners_.empty()) static_cast<void>(new std::vector<std::shared_ptr<const void>>(std::move(owners_)));
  if (comm_ == MPI_COMM_NULL) return;
  if (disconnect_) {
    MPI_Comm_disconnect(&comm_);
  } else {
    MPI_Comm_free(&comm_);
  }
}

std::size_t link::max_part_bytes() {
  static const std::size_t limit = [] {
    const char* text = std::getenv("MPIPOOL_MAX_MESSAGE_BYTES");
    const long long wanted = text != nullptr ? std::atoll(text) : 0;
    return wanted > 0 && wanted < INT_MAX ? static_cast<std::size_t>(wanted) : std::size_t{1} << 30;
  }();
  return limit;
}

void link::post(int dest, int tag, const std::byte* data, std::size_t size, std::shared_ptr<const void> owner) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Isend(data, static_cast<int>(size), MPI_BYTE, dest, tag, comm_, &request), "MPI_Isend");
  requests_.push_back(request);
  owners_.push_back(std::move(owner));
  pending_.store(requests_.size(), std::memory_order_release);
  if (size >= large_send_bytes) {
    const auto moving_for = std::chrono::milliseconds(1) + std::chrono::nanoseconds(size * 4);  // ~256 MB/s
    const auto until = (clock::now() + moving_for).time_since_epoch().count();
    if (until > keep_polling_until_.load(std::memory_order_relaxed)) {
      keep_polling_until_.store(until, std::memory_order_relaxed);
    }
  }
}

bool link::large_send_moving() const {
  return pending_.load(std::memory_order_acquire) != 0 &&
         clock::now().time_since_epoch().count() < keep_polling_until_.load(std::memory_order_relaxed);
}

void link::send(int dest, int tag, byte_buffer body) { send_keeping(dest, tag, body); }

void link::send_keeping(int dest, int tag, byte_buffer& body) {
  if (body.size() > small_message_bytes) {
    send(dest, tag, std::make_shared<const byte_buffer>(std::move(body)));  // leaves `body` empty
    return;
  }
  {
    // Small messages go eagerly: a blocking send returns at once and needs no request to track.
    std::lock_guard lock(sends_mutex_);
    check(MPI_Send(body.data(), static_cast<int>(body.size()), MPI_BYTE, dest, tag, comm_), "MPI_Send");
  }
  body.clear();
}

void link::send(int dest, int tag, std::shared_ptr<const byte_buffer> owner) {
  std::lock_guard lock(sends_mutex_);  // the parts of a split message must not interleave with others
  // MPIPOOL_MAX_MESSAGE_BYTES may ask for smaller parts still (tests of the split path).
  if (owner->size() <= std::min(posted_bytes, max_part_bytes())) {
    const std::byte* data = owner->data();
    const std::size_t size = owner->size();
    post(dest, tag, data, size, std::move(owner));
    return;
  }
  post_parts(dest, tag, owner, {});  // too large for the receive posted on the other side
}

void link::send(int dest, int tag, byte_buffer body, std::vector<borrowed_span> borrowed) {
  if (borrowed.empty()) {
    send(dest, tag, std::move(body));
    return;
  }
  send(dest, tag, std::make_shared<const byte_buffer>(std::move(body)), borrowed);
}

void link::send(int dest, int tag, std::shared_ptr<const byte_buffer> body,
                const std::vector<borrowed_span>& borrowed) {
  if (borrowed.empty()) {
    send(dest, tag, std::move(body));
    return;
  }
  std::lock_guard lock(sends_mutex_);
  post_parts(dest, tag, body, borrowed);
}

void link::post_parts(int dest, int tag, const std::shared_ptr<const byte_buffer>& body,
                      const std::vector<borrowed_span>& borrowed) {
  struct piece {
    const std::byte* data;
    std::size_t size;
    std::shared_ptr<const void> owner;
  };
  std::vector<piece> pieces;
  const std::size_t limit = max_part_bytes();
  auto add = [&](const std::byte* data, std::size_t size, const std::shared_ptr<const void>& owner) {
    for (std::size_t offset = 0; offset < size; offset += limit) {
      pieces.push_back({data + offset, std::min(limit, size - offset), owner});
    }
  };
  std::size_t cursor = 0;
  std::size_t total = body->size();
  for (const auto& span : borrowed) {  // in offset order: a batch borrows as it grows
    add(body->data() + cursor, span.offset - cursor, body);
    add(span.bytes.data(), span.bytes.size(), span.keeper);
    cursor = span.offset;
    total += span.bytes.size();
  }
  add(body->data() + cursor, body->size() - cursor, body);

  // A header with the total and every part's size; the parts follow under tag_part.
  auto header = std::make_shared<byte_buffer>();
  header->put<std::uint64_t>(total);
  header->put<std::uint64_t>(pieces.size());
  for (const auto& part : pieces) header->put<std::uint64_t>(part.size);
  if (header->size() > posted_bytes) {
    throw error("a message in " + std::to_string(pieces.size()) + " parts is more than one header can announce (" +
                std::to_string((posted_bytes - 2 * sizeof(std::uint64_t)) / sizeof(std::uint64_t)) +
                "): pass fewer large vectors to one call, or raise MPIPOOL_MAX_MESSAGE_BYTES");
  }
  const std::byte* header_data = header->data();
  const std::size_t header_size = header->size();
  post(dest, tag | wire::split_flag, header_data, header_size, std::move(header));
  for (auto& part : pieces) post(dest, wire::tag_part, part.data, part.size, std::move(part.owner));
}

bool link::progress_sends() {
  if (pending_.load(std::memory_order_acquire) == 0) return false;  // small messages left at once
  std::lock_guard lock(sends_mutex_);
  if (requests_.empty()) return false;
  int done = 0;
  completed_.resize(requests_.size());
  check(MPI_Testsome(static_cast<int>(requests_.size()), requests_.data(), &done, completed_.data(),
                     MPI_STATUSES_IGNORE),
        "MPI_Testsome");
  if (done <= 0) return false;
  // Testsome set completed requests to MPI_REQUEST_NULL; compact both vectors.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < requests_.size(); ++i) {
    if (requests_[i] == MPI_REQUEST_NULL) continue;
    requests_[kept] = requests_[i];
    owners_[kept] = std::move(owners_[i]);
    ++kept;
  }
  requests_.resize(kept);
  owners_.resize(kept);
  pending_.store(kept, std::memory_order_release);
  return true;
}

void link::recycle(byte_buffer body) {
  // Only bodies of the sizes receive() hands out: a larger one would hold its memory
  // for as long as the link lives.
  const bool posted_size = body.capacity() == posted_bytes;
  if (!posted_size && body.capacity() > small_message_bytes) return;
  std::unique_lock lock(receive_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (posted_size) {
    spare_posted_body_ = std::move(body);
  } else if (body.capacity() > spare_body_.capacity()) {
    spare_body_ = std::move(body);
  }
}

bool link::receive_pending() {
  std::lock_guard lock(receive_mutex_);
  if (!held_.empty()) return true;
  int found = 0;
  if (posted_ != MPI_REQUEST_NULL) {
    check(MPI_Request_get_status(posted_, &found, MPI_STATUS_IGNORE), "MPI_Request_get_status");
  }
  if (found == 0) check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &found, MPI_STATUS_IGNORE), "MPI_Iprobe");
  return found != 0;
}

std::optional<message> link::receive(next_receive then) {
  // Uncontended but for a sub-pool's slot request (receive_tagged): try, do not wait.
  std::unique_lock lock(receive_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return std::nullopt;
  if (held_error_) std::rethrow_exception(std::exchange(held_error_, nullptr));
  if (!held_.empty()) {
    message first = std::move(held_.front());
    held_.pop_front();
    return first;
  }
  return take_arrived(then);
}

std::optional<message> link::receive_tagged(int tag) {
  std::lock_guard lock(receive_mutex_);
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (it->tag != tag) continue;
    message found = std::move(*it);
    held_.erase(it);
    return found;
  }
  try {
    while (auto incoming = take_arrived(next_receive::post_now)) {
      if (incoming->tag == tag) return incoming;
      held_.push_back(std::move(*incoming));
    }
  } catch (...) {
    // A message this caller did not ask for failed: the loop that owns the link
    // answers for it (a worker tells its master which chunks it lost).
    held_error_ = std::current_exception();
  }
  return std::nullopt;
}

std::optional<message> link::take_arrived(next_receive then) {
  if (posted_ == MPI_REQUEST_NULL) post_receive();  // none since the last message was taken
  int arrived = 0;
  MPI_Status status;
  check(MPI_Test(&posted_, &arrived, &status), "MPI_Test");
  if (arrived == 0) return std::nullopt;
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  heard(status.MPI_SOURCE);
  message incoming{status.MPI_SOURCE, status.MPI_TAG, {}};
  const auto size = static_cast<std::size_t>(count);
  if (size <= small_message_bytes) {
    if (spare_body_.capacity() >= size) incoming.body = std::move(spare_body_);
    incoming.body.resize(size);
    std::memcpy(incoming.body.data(), posted_body_.data(), size);
  } else {
    // Copying out a larger one cost W1 at chunksize 1 about 6%: it leaves in the posted
    // memory, and the next receive gets a recycled body or block (large_blocks).
    byte_buffer next = std::move(spare_posted_body_);
    next.resize(posted_bytes);
    incoming.body = std::exchange(posted_body_, std::move(next));
    incoming.body.resize(size);
  }
  // A split message's parts come next from its sender, under tag_part: the receive
  // posted for any tag must not take them.
  if ((incoming.tag & wire::split_flag) != 0) join_parts(incoming);
  if (then == next_receive::post_now) post_receive();
  return incoming;
}

void link::join_parts(message& incoming) {
  // The parts follow at once and in order (MPI does not reorder messages of one sender).
  byte_reader header(incoming.body.view());
  const auto total = header.get<std::uint64_t>();
  const auto parts = header.get<std::uint64_t>();
  if (parts != header.remaining() / sizeof(std::uint64_t) || header.remaining() % sizeof(std::uint64_t) != 0) {
    throw serialization_error("malformed split message header: " + std::to_string(parts) + " parts announced in " +
                              std::to_string(incoming.body.size()) + " bytes");
  }
  std::vector<std::uint64_t> sizes(parts);
  std::uint64_t announced = 0;
  std::uint64_t largest = 0;
  std::uint64_t largest_at = 0;  // the largest part is an array sent from its own memory, or a slice of one
  for (auto& size : sizes) {
    size = header.get<std::uint64_t>();
    if (size > INT_MAX || size > total - announced) {
      throw serialization_error("malformed split message header: parts exceed the announced " +
                                std::to_string(total) + " bytes");
    }
    if (size > largest) {
      largest = size;
      largest_at = announced;
    }
    announced += size;
  }
  if (announced != total) {
    throw serialization_error("malformed split message header: parts add up to " + std::to_string(announced) +
                              " of the announced " + std::to_string(total) + " bytes");
  }
  std::size_t taken = 0;
  try {
    auto whole = byte_buffer::with_aligned_byte(total, largest_at);
    std::size_t offset = 0;
    for (const auto size : sizes) {
      MPI_Status part_status;
      ++taken;
      check(MPI_Recv(whole.data() + offset, static_cast<int>(size), MPI_BYTE, incoming.source, wire::tag_part,
                     comm_, &part_status),
            "MPI_Recv");
      int received = 0;
      check(MPI_Get_count(&part_status, MPI_BYTE, &received), "MPI_Get_count");
      if (static_cast<std::uint64_t>(received) != size) {
        throw serialization_error("malformed split message: a part of " + std::to_string(received) +
                                  " bytes where " + std::to_string(size) + " were announced");
      }
      offset += size;
    }
    incoming.tag &= ~wire::split_flag;
    incoming.body = std::move(whole);
  } catch (...) {
    // The parts not taken must not reach the receive posted next (a large one would
    // not fit it): take each whole and drop it. (Receiving one truncated, into nothing,
    // crashed Open MPI 4.1 in its single-copy path.)
    try {
      for (; taken < sizes.size(); ++taken) {
        MPI_Message part = MPI_MESSAGE_NULL;
        MPI_Status status;
        MPI_Mprobe(incoming.source, wire::tag_part, comm_, &part, &status);
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        byte_buffer dropped(static_cast<std::size_t>(count));
        MPI_Mrecv(dropped.data(), count, MPI_BYTE, &part, MPI_STATUS_IGNORE);
      }
    } catch (const std::bad_alloc&) {
      // Out of memory for a part as well: the pool will fail on it; this error says more.
    }
    throw;
  }
}

}  // namespace mpipool::detail
