// The memory a supervised rank shares with its task processes: large blocks come
// from it once it is open, a task process sees them read-only, and freed ranges
// are used again.

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
int in_task_process(Child child) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);
    large_blocks::leave_shared_arena();
    ::_exit(child() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("once the arena is open, large buffers live in it and a fork reads them read-only", "[shared_arena]") {
  large_blocks::use_shared_arena();
  REQUIRE(shared_arena::serving());

  byte_buffer large;
  large.resize(std::size_t{200} << 10);
  std::memset(large.data(), 0x5a, large.size());
  REQUIRE(shared_arena::contains(large.view()));
  byte_buffer small;
  small.resize(100);
  CHECK_FALSE(shared_arena::contains(small.view()));

  const auto offset = shared_arena::offset_of(large.data());
  const auto seen = shared_arena::bytes_at(offset, large.size());
  REQUIRE(seen);
  CHECK(seen->data() == large.data());
  CHECK_FALSE(shared_arena::bytes_at(offset, std::uint64_t{1} << 62));  // past its end

  SECTION("a task process reads the bytes where the rank wrote them") {
    const auto status = in_task_process([&] {
      const auto bytes = shared_arena::bytes_at(offset, large.size());
      return bytes && (*bytes)[0] == std::byte{0x5a} && (*bytes)[large.size() - 1] == std::byte{0x5a} &&
             !shared_arena::serving();
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
  SECTION("a task process's own large buffers are not in the arena") {
    const auto status = in_task_process([] {
      byte_buffer own;
      own.resize(std::size_t{200} << 10);
      std::memset(own.data(), 1, own.size());
      return !shared_arena::contains(own.view());
    });
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("the arena hands out freed ranges again, joined with their neighbours", "[shared_arena]") {
  large_blocks::use_shared_arena();
  REQUIRE(shared_arena::serving());
  const std::size_t block = std::size_t{1} << 20;
  std::size_t sizes[3] = {block, block, block};
  std::byte* blocks[3];
  for (int i = 0; i < 3; ++i) {
    blocks[i] = shared_arena::allocate(sizes[i]);
    REQUIRE(blocks[i] != nullptr);
    CHECK(sizes[i] == block);
  }
  // Freed out of order, the three become one range: a block of three times the size fits there.
  shared_arena::release(blocks[0], block);
  shared_arena::release(blocks[2], block);
  shared_arena::release(blocks[1], block);
  std::size_t triple = 3 * block;
  std::byte* joined = shared_arena::allocate(triple);
  REQUIRE(joined != nullptr);
  CHECK(joined <= blocks[0]);
  shared_arena::release(joined, triple);

  std::size_t odd = 1000;
  std::byte* rounded = shared_arena::allocate(odd);
  REQUIRE(rounded != nullptr);
  CHECK(odd % static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) == 0);
  CHECK(odd >= 1000);
  shared_arena::release(rounded, odd);
}
