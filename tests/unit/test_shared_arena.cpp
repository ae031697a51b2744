// The memory a supervised rank shares with its task processes: the rank's large
// blocks come from its arena once it is open, a task process sees them read-only
// and takes its own from the other arena, and freed ranges are used again.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "mpipool/detail/byte_buffer.hpp"
#include "shared_arena.hpp"

using mpipool::detail::byte_buffer;
using mpipool::detail::large_blocks;
using mpipool::detail::shared_arena;

namespace {

/// Runs `child` in a forked process that enters the task process's view of the
/// arena first; returns its wait status.
template <class Child>
int in_task_process(Child child, bool serve_own = true) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);
    large_blocks::leave_shared_arena(serve_own);
    ::_exit(child() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

/// Whether a fresh large buffer of this process lies in the task process's arena.
bool large_buffer_in_task_arena() {
  byte_buffer own;
  own.resize(std::size_t{200} << 10);
  std::memset(own.data(), 1, own.size());
  return shared_arena::of_task_process().contains(own.view());
}

}  // namespace

TEST_CASE("once the arenas are open, large buffers live in the rank's, which a fork reads read-only",
          "[shared_arena]") {
  large_blocks::use_shared_arena();
  auto& rank = shared_arena::of_rank();
  auto& task = shared_arena::of_task_process();
  REQUIRE(shared_arena::serving() == &rank);

  byte_buffer large;
  large.resize(std::size_t{200} << 10);
  std::memset(large.data(), 0x5a, large.size());
  REQUIRE(rank.contains(large.view()));
  CHECK_FALSE(task.contains(large.view()));
  byte_buffer small;
  small.resize(100);
  CHECK_FALSE(rank.contains(small.view()));

  const auto offset = rank.offset_of(large.data());
  const auto seen = rank.bytes_at(offset, large.size());
  REQUIRE(seen);
  CHECK(seen->data() == large.data());
  CHECK_FALSE(rank.bytes_at(offset, std::uint64_t{1} << 62));  // past its end

  SECTION("a task process reads the bytes where the rank wrote them") {
    const auto status = in_task_process([&] {
      const auto bytes = shared_arena::of_rank().bytes_at(offset, large.size());
      return bytes && (*bytes)[0] == std::byte{0x5a} && (*bytes)[large.size() - 1] == std::byte{0x5a} &&
             shared_arena::serving() == &shared_arena::of_task_process();
    });
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  SECTION("a task process that writes there dies of it") {
    const auto status = in_task_process([&] {
      large.data()[0] = std::byte{1};
      return true;
    });
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGSEGV);
    CHECK(large.data()[0] == std::byte{0x5a});
  }
  SECTION("a task process's large buffers are in its own arena, where the rank reads them") {
    const auto status = in_task_process([] {
      byte_buffer own;
      own.resize(std::size_t{200} << 10);
      std::memset(own.data(), 0x21, own.size());
      const auto& task_arena = shared_arena::of_task_process();
      if (!task_arena.contains(own.view())) return false;
      // Left for the rank to read after this process is gone: the first block of a fresh arena.
      return task_arena.offset_of(own.data()) == 0;
    });
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const auto written = task.bytes_at(0, std::size_t{200} << 10);
    REQUIRE(written);
    CHECK((*written)[0] == std::byte{0x21});
    task.discard_all();
    CHECK((*written)[0] == std::byte{0});  // its pages went back
  }
}

TEST_CASE("a task process under a memory limit, and a process a task forks, take no blocks from the arena",
          "[shared_arena]") {
  large_blocks::use_shared_arena();
  REQUIRE(shared_arena::serving() == &shared_arena::of_rank());
  SECTION("under a memory limit its large buffers come from its heap") {
    const auto status = in_task_process([] { return shared_arena::serving() == nullptr && !large_buffer_in_task_arena(); },
                                        false);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  SECTION("a child of a task process does not share its free list") {
    const auto status = in_task_process([] {
      if (!large_buffer_in_task_arena()) return false;
      const pid_t grandchild = ::fork();
      if (grandchild == 0) ::_exit(shared_arena::serving() == nullptr && !large_buffer_in_task_arena() ? 0 : 1);
      int inner = 0;
      ::waitpid(grandchild, &inner, 0);
      return WIFEXITED(inner) && WEXITSTATUS(inner) == 0 && large_buffer_in_task_arena();
    });
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("the arena hands out freed ranges again, joined with their neighbours", "[shared_arena]") {
  large_blocks::use_shared_arena();
  auto& rank = shared_arena::of_rank();
  REQUIRE(shared_arena::serving() == &rank);
  const std::size_t block = std::size_t{1} << 20;
  std::size_t sizes[3] = {block, block, block};
  std::byte* blocks[3];
  for (int i = 0; i < 3; ++i) {
    blocks[i] = rank.allocate(sizes[i]);
    REQUIRE(blocks[i] != nullptr);
    CHECK(sizes[i] == block);
  }
  // Freed out of order, the three become one range: a block of three times the size fits there.
  rank.release(blocks[0], block);
  rank.release(blocks[2], block);
  rank.release(blocks[1], block);
  std::size_t triple = 3 * block;
  std::byte* joined = rank.allocate(triple);
  REQUIRE(joined != nullptr);
  CHECK(joined <= blocks[0]);
  rank.release(joined, triple);

  std::size_t odd = 1000;
  std::byte* rounded = rank.allocate(odd);
  REQUIRE(rounded != nullptr);
  CHECK(odd % static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) == 0);
  CHECK(odd >= 1000);
  rank.release(rounded, odd);
}
