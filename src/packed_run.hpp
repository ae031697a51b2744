#pragma once
// Runs a packed chunk through its task's typed loop (task_entry::run_packed): the
// fast path for tasks whose arguments and result are all arithmetic. Results go
// out as runs, one record for many items (wire::item_status::ok_run); an item that
// throws gets a failed record of its own, and the loop goes on after it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <span>

#include "error_record.hpp"
#include "mpipool/detail/byte_buffer.hpp"
#include "mpipool/errors.hpp"
#include "mpipool/task.hpp"
#include "wire.hpp"

namespace mpipool::detail {

/// True if `count` items of `item_size` bytes, `args`, can run in the task's typed
/// loop. Anything else (a framed chunk, a task with other types, bytes that do not
/// add up) runs item by item, where each item gets its own answer.
inline bool runs_packed(const task_entry* entry, std::uint32_t item_size, std::span<const std::byte> args,
                        std::uint32_t count) {
  return entry != nullptr && entry->run_packed != nullptr && item_size != 0 &&
         item_size == entry->packed_arg_size && args.size() == std::size_t{count} * item_size;
}

/// Runs items [first, first + count) of a packed chunk whose item bytes are `args`
/// (item `first` at the start). `emit(item, status, payload)` receives each record.
/// `current` holds the item running now (a progress board, for crash attribution).
///
/// Items run in slices of about slice_time each, one run per slice: results leave
/// as they come, so a crash in a long chunk loses (and re-runs) at most the results
/// of the last moments, not of the whole chunk. The slice doubles while slices are
/// quick, so a chunk of no-op items still costs a handful of runs.
template <class Emit>
void run_packed(const task_entry& entry, std::span<const std::byte> args, std::uint32_t item_size,
                std::uint32_t first, std::uint32_t count, std::atomic<std::uint32_t>& current,
                const origin& identity, Emit&& emit) {
  using clock = std::chrono::steady_clock;
  constexpr auto slice_time = std::chrono::microseconds(100);
  const std::size_t result_size = entry.packed_result_size;
  // Result i sits at 4 + i * result_size; a run [b, e) is sent from b * result_size
  // with its count written just before its first result (over a slot already sent).
  thread_local byte_buffer scratch;
  scratch.resize(sizeof(std::uint32_t) + count * result_size);
  std::uint32_t slice = 16;
  std::uint32_t begin = 0;
  while (begin < count) {
    const std::uint32_t stop = begin + std::min(slice, count - begin);
    std::uint32_t end = stop;
    std::exception_ptr failure;
    // Only a slice with more to follow is timed, to size the next: a lone item reads no clock.
    const bool timed = stop < count;
    const auto started = timed ? clock::now() : clock::time_point{};
    try {
      entry.run_packed(args.data() + std::size_t{begin} * item_size, stop - begin,
                       scratch.data() + sizeof(std::uint32_t) + begin * result_size, first + begin, current);
    } catch (...) {
      failure = std::current_exception();
      end = current.load(std::memory_order_relaxed) - first;
    }
    const auto took = timed ? clock::now() - started : clock::duration{slice_time};
    if (end > begin) {
      std::byte* run = scratch.data() + begin * result_size;
      const std::uint32_t length = end - begin;
      std::memcpy(run, &length, sizeof length);
      emit(first + begin, wire::item_status::ok_run,
           std::span<const std::byte>(run, sizeof length + length * result_size));
    }
    if (failure) {
      byte_buffer record;
      origin here = identity;
      here.task = entry.name;
      write_error(record, failure, here);
      emit(first + end, wire::item_status::failed, record.view());
      ++end;
    }
    if (took < slice_time / 2 && slice < (std::uint32_t{1} << 30)) {
      slice *= 2;
    } else if (took > 2 * slice_time && slice > 1) {
      slice /= 2;
    }
    begin = end;
  }
}

}  // namespace mpipool::detail
