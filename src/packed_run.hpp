#pragma once
// Runs a packed chunk through its task's typed loop (task_entry::run_packed): the
// fast path for tasks whose arguments and result are all arithmetic. Results go
// out as runs, one record for many items (wire::item_status::ok_run); an item that
// throws gets a failed record of its own, and the loop goes on after it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstring>
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

/// Where run_packed writes its records, straight into the message that carries them:
///   std::byte* open_run(std::uint32_t item, std::size_t max_bytes): room for a run
///     of results from `item` on (wire::item_status::ok_run: a u32 count, then the
///     results), valid until close_run;
///   void close_run(std::uint32_t count, std::size_t bytes): the run holds `count`
///     results in `bytes`; a count of 0 takes the record back;
///   void failed(std::uint32_t item, std::span<const std::byte> record): an error record;
///   void reserve(std::size_t bytes): room for about this much more, asked once per
///     chunk, so that the message does not grow (and copy itself) run by run.
template <class Sink>
concept packed_sink = requires(Sink sink, std::uint32_t item, std::size_t bytes, std::span<const std::byte> record) {
  sink.reserve(bytes);
  { sink.open_run(item, bytes) } -> std::same_as<std::byte*>;
  sink.close_run(item, bytes);
  sink.failed(item, record);
};

/// Runs items [first, first + count) of a packed chunk whose item bytes are `args`
/// (item `first` at the start), writing their records to `sink`. With
/// item_tracking::every_block, `running` says which items run now (a task
/// process's progress board, for crash attribution); otherwise only which threw.
///
/// Items run in slices of about slice_time each, one run per slice: results leave
/// as they come, so a crash in a long chunk loses (and re-runs) at most the results
/// of the last moments, not of the whole chunk. The slice doubles while slices are
/// quick, so a chunk of no-op items still costs a handful of runs.
template <packed_sink Sink>
void run_packed(const task_entry& entry, std::span<const std::byte> args, std::uint32_t item_size,
                std::uint32_t first, std::uint32_t count, item_tracking tracking, running_item& running,
                const origin& identity, Sink& sink) {
  using clock = std::chrono::steady_clock;
  constexpr auto slice_time = std::chrono::microseconds(100);
  const std::size_t result_size = entry.packed_result_size;
  const packed_invoker loop = tracking == item_tracking::every_block ? entry.run_packed_tracked : entry.run_packed;
  // The results, and the records of the runs (about 32 bytes each): slices double,
  // so a chunk takes a few dozen runs, and never more than it has items.
  constexpr std::size_t run_record_bytes = 32;
  constexpr std::uint32_t runs_expected = 64;
  sink.reserve(std::size_t{count} * result_size + std::size_t{std::min(count, runs_expected)} * run_record_bytes);
  std::uint32_t slice = 16;
  std::uint32_t begin = 0;
  while (begin < count) {
    const std::uint32_t stop = begin + std::min(slice, count - begin);
    std::uint32_t end = stop;
    std::exception_ptr failure;
    // The results go where the message wants them: [u32 count][results].
    std::byte* run = sink.open_run(first + begin, sizeof(std::uint32_t) + (stop - begin) * result_size);
    // Only a slice with more to follow is timed, to size the next: a lone item reads no clock.
    const bool timed = stop < count;
    const auto started = timed ? clock::now() : clock::time_point{};
    try {
      loop(args.data() + std::size_t{begin} * item_size, stop - begin, run + sizeof(std::uint32_t), first + begin,
           running);
    } catch (...) {
      failure = std::current_exception();
      end = running.index.load(std::memory_order_relaxed) - first;
    }
    const auto took = timed ? clock::now() - started : clock::duration{slice_time};
    const std::uint32_t length = end - begin;
    std::memcpy(run, &length, sizeof length);
    sink.close_run(length, sizeof length + std::size_t{length} * result_size);
    if (failure) {
      byte_buffer record;
      origin here = identity;
      here.task = entry.name;
      write_error(record, failure, here);
      sink.failed(first + end, record.view());
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
