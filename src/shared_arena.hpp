#pragma once
// Memory that a supervised worker rank shares with the task processes it forks,
// so that large chunks and large results cross between them without a copy
// through the rings: on 2 cores each such copy ran on the one core the two share.
//
// There are two arenas, each written by one side and read by the other:
// - the rank's: its large blocks (large_blocks: MPI messages of 64 KiB and up) are
//   carved from it, so a task process reads a large chunk's items where MPI put
//   them. A task process maps it read-only: a task that writes through a wild
//   pointer cannot corrupt its rank's messages.
// - the task process's: its large blocks, so the rank reads a large batch of
//   results where the task process wrote them. Each new task process starts with
//   all of it free; the rank gives the pages of the last one back first.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <map>
#include <optional>
#include <span>

namespace mpipool::detail {

class shared_arena {
 public:
  static shared_arena& of_rank();
  static shared_arena& of_task_process();
  /// The arena this process carves its large blocks from, or nullptr.
  static shared_arena* serving();

  /// Maps the arena once, in this process; forks made afterwards share it. Does
  /// nothing, and the arena stays closed, where the address space is limited
  /// (RLIMIT_AS): the reservation would count against it. True if it is open.
  bool open();
  /// This process carves its large blocks from here from now on, all of it free.
  void serve();
  /// This process only reads here from now on (a task process, the rank's arena).
  void read_only();
  /// Gives every page back to the system (the rank, after its task process ended).
  void discard_all();

  /// A block of at least `size` bytes, or nullptr when this process does not serve
  /// from here or it is full. Rounds `size` up to what the block holds, whole pages.
  std::byte* allocate(std::size_t& size);
  /// Returns a block; its pages go back to the system.
  void release(std::byte* block, std::size_t size);

  [[nodiscard]] bool contains(std::span<const std::byte> bytes) const;
  /// Where `at` (inside the arena) lies, counted from its beginning.
  [[nodiscard]] std::uint64_t offset_of(const std::byte* at) const;
  /// The bytes at [offset, offset + size), or nothing when that is not inside the arena.
  [[nodiscard]] std::optional<std::span<const std::byte>> bytes_at(std::uint64_t offset, std::uint64_t size) const;

 private:
  shared_arena() = default;
  friend void lock_arenas_for_fork();
  friend void unlock_arenas_after_fork();

  // Set once by open() (the size first), read without the lock.
  std::atomic<std::byte*> base_{nullptr};
  std::size_t size_ = 0;
  std::mutex mutex_;
  std::map<std::size_t, std::size_t> free_;  // offset -> bytes, never two adjacent
};

}  // namespace mpipool::detail
