#pragma once
// The seam between the typed front end (pool.hpp) and the untyped engine that
// moves bytes (src/manager.cpp). A job hands out encoded chunks and takes back
// encoded results; the engine never needs to know the C++ types involved.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpipool/detail/borrowed_bytes.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/detail/codec.hpp"
#include "mpipool/detail/driver.hpp"
#include "mpipool/task.hpp"

namespace mpipool::detail {

/// Consecutive items of one job. Items are written as [u64 length][argument bytes],
/// or, where every argument is arithmetic, packed: `item_size` bytes each, no framing.
/// The items start after `header_room` bytes, where the engine writes a message
/// header, so that a large chunk goes out as its own message without a copy.
struct encoded_chunk {
  static constexpr std::size_t header_room = 48;  // wire: message id, count, one chunk header, items length
  std::uint64_t first_index = 0;
  std::uint32_t count = 0;
  std::uint32_t item_size = 0;  // 0: framed items
  byte_buffer items;
  /// Large vectors passed as rvalues: their bytes belong at these offsets of `items`
  /// but stay in the vectors, which travel along, so the link sends them uncopied.
  std::vector<borrowed_span> adopted;

  /// The items, with adopted bytes copied in.
  [[nodiscard]] std::span<const std::byte> item_bytes() {
    if (!adopted.empty()) {
      items = with_borrowed(items, adopted);
      adopted.clear();
    }
    return items.empty() ? std::span<const std::byte>() : items.view().subspan(header_room);
  }
};

/// Appends one item's encoded arguments to a chunk.
template <class... Ts>
void append_item(encoded_chunk& chunk, const Ts&... args) {
  if (chunk.items.empty()) chunk.items.resize(encoded_chunk::header_room);
  if constexpr (packable_v<Ts...>) {
    chunk.item_size = packed_args<std::tuple<Ts...>>::size;
    (chunk.items.put(args), ...);
  } else {
    const std::size_t length_at = chunk.items.size();
    chunk.items.put<std::uint64_t>(0);
    encode_values(chunk.items, args...);
    chunk.items.put_at<std::uint64_t>(length_at, chunk.items.size() - length_at - sizeof(std::uint64_t));
  }
  ++chunk.count;
}

/// Writes one flat argument; a large vector of numbers passed as an rvalue is
/// adopted instead (its count is written, its bytes stay in the vector). Returns the
/// bytes adopted.
template <class T>
std::size_t put_or_adopt(encoded_chunk& chunk, T&& value) {
  using plain = std::remove_cvref_t<T>;
  if constexpr (is_number_vector<plain>::value && !std::is_lvalue_reference_v<T>) {
    const std::size_t bytes = value.size() * sizeof(typename plain::value_type);
    if (bytes >= borrowed_bytes::threshold) {
      chunk.items.put<std::uint64_t>(value.size());  // the count, as put_flat writes it
      auto kept = std::make_shared<const plain>(std::move(value));
      chunk.adopted.push_back({chunk.items.size(), std::as_bytes(std::span(*kept)), kept});
      return bytes;
    }
  }
  put_flat(chunk.items, value);
  return 0;
}

/// Appends one framed item whose arguments are all flat (codec.hpp), adopting large
/// rvalue vectors: `pool.apply(f, std::move(v))` sends v's memory itself.
template <class... Ts>
void append_item_adopting(encoded_chunk& chunk, Ts&&... args) {
  if (chunk.items.empty()) chunk.items.resize(encoded_chunk::header_room);
  const std::size_t length_at = chunk.items.size();
  chunk.items.put<std::uint64_t>(0);
  std::size_t adopted = 0;
  ((adopted += put_or_adopt(chunk, std::forward<Ts>(args))), ...);  // a comma fold: in argument order
  chunk.items.put_at<std::uint64_t>(length_at, chunk.items.size() - length_at - sizeof(std::uint64_t) + adopted);
  ++chunk.count;
}

/// Whether a call's arguments may be adopted: all flat, one of them a vector passed as an rvalue.
template <class... Args>
inline constexpr bool adoptable_call_v =
    sizeof...(Args) > 0 && all_flat_v<std::remove_cvref_t<Args>...> &&
    ((is_number_vector<std::remove_cvref_t<Args>>::value && !std::is_lvalue_reference_v<Args>) || ...);

/// Appends one call's arguments, converted to the task's parameter types (`ArgsTuple`)
/// only where they differ: a vector passed as it is, is not copied first.
template <class ArgsTuple, class... Args>
void append_call(encoded_chunk& chunk, Args&&... args) {
  if constexpr (std::is_same_v<std::tuple<std::remove_cvref_t<Args>...>, ArgsTuple> && adoptable_call_v<Args...>) {
    append_item_adopting(chunk, std::forward<Args>(args)...);
  } else if constexpr (std::is_same_v<std::tuple<std::remove_cvref_t<Args>...>, ArgsTuple>) {
    append_item(chunk, args...);
  } else {
    const ArgsTuple converted(std::forward<Args>(args)...);
    std::apply([&chunk](const auto&... values) { append_item(chunk, values...); }, converted);
  }
}

/// What the engine needs to run a job's items.
struct job_settings {
  task_id task = 0;
  int retries = 0;
  std::chrono::milliseconds timeout{0};
};

class job {
 public:
  explicit job(job_settings settings) : settings_(settings) {}
  job(const job&) = delete;
  job& operator=(const job&) = delete;
  virtual ~job() = default;

  [[nodiscard]] const job_settings& settings() const { return settings_; }

  // Everything below is called only by the engine's progress thread.

  /// Fills `chunk` with the next items; false if none are available now.
  virtual bool next_chunk(encoded_chunk& chunk) = 0;
  /// True once next_chunk() will never return more items.
  [[nodiscard]] virtual bool input_done() const = 0;
  /// One item's encoded result arrived.
  virtual void deliver(std::uint64_t index, std::span<const std::byte> result) = 0;
  /// The results of items [index, index + count), packed: `size` bytes each.
  virtual void deliver_run(std::uint64_t index, std::uint32_t count, std::size_t size,
                           std::span<const std::byte> results) {
    for (std::uint32_t i = 0; i < count; ++i) deliver(index + i, results.subspan(i * size, size));
  }
  /// One item failed.
  virtual void deliver_error(std::uint64_t index, std::exception_ptr error) = 0;
  /// Every item has been delivered and the input is done.
  virtual void finish() = 0;
  /// The whole job is abandoned (pool terminated or broken); undelivered items fail with `error`.
  virtual void abandon(std::exception_ptr error) = 0;

 private:
  job_settings settings_;
};

/// Runs jobs on workers. Implemented by the MPI engine, and by the proxy a
/// supervised task process uses to reach its rank. Threads waiting for results
/// drive it (progress_driver).
class executor : public progress_driver {
 public:
  /// Queues a job; throws pool_closed after close() or terminate().
  virtual void submit(std::shared_ptr<job> work) = 0;
  [[nodiscard]] virtual std::size_t workers() const = 0;
  /// A consumer freed buffer space (imap backpressure): look for chunks again.
  virtual void wake() = 0;
  virtual void close() = 0;
  /// Waits until every submitted job has finished; requires close() first.
  virtual void join() = 0;
  /// Stops now: pending items fail with pool_closed, task processes are killed.
  virtual void terminate() = 0;
};

/// Python's rule: ceil(items / (4 x workers)), and at least 1.
std::size_t default_chunksize(std::size_t items, std::size_t workers);

}  // namespace mpipool::detail
