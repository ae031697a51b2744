#pragma once
// Memory that a supervised worker rank shares with the task processes it forks.
// Once the arena is open, the rank's large blocks (large_blocks: MPI messages of
// 64 KiB and up) are carved from it, so a task process reads a large chunk's items
// where MPI put them instead of receiving a copy through its input ring: on 2
// cores that was four copies of every item (into the frame, into the ring, out of
// it, into a frame of the task process's own).
//
// In a task process the arena is read-only: a task that writes through a wild
// pointer cannot corrupt its rank's messages. It serves allocations only in the
// process that opened it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace mpipool::detail {

class shared_arena {
 public:
  /// Maps the arena once, in this process; forks made afterwards share it. Does
  /// nothing, and the arena stays closed, where the address space is limited
  /// (RLIMIT_AS): the reservation would count against it. True if it opened now.
  static bool open();

  /// In a task process right after its fork: the arena becomes read-only here and
  /// allocates nothing; the blocks it holds for the rank are not this process's to free.
  static void enter_task_process();

  /// Whether this process allocates from the arena.
  static bool serving();

  /// A block of at least `size` bytes, or nullptr when the arena is closed or full.
  /// Rounds `size` up to what the block holds, a whole number of pages.
  static std::byte* allocate(std::size_t& size);

  /// Returns a block to the arena. Its pages go back to the system.
  static void release(std::byte* block, std::size_t size);

  /// Whether `bytes` lie inside the arena.
  static bool contains(std::span<const std::byte> bytes);

  /// Where `bytes` (inside the arena) start, counted from its beginning.
  static std::uint64_t offset_of(const std::byte* at);

  /// The bytes at [offset, offset + size) of the arena, or nothing when that is not inside it.
  static std::optional<std::span<const std::byte>> bytes_at(std::uint64_t offset, std::uint64_t size);
};

}  // namespace mpipool::detail
