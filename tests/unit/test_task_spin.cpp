// How a task process waits for its next chunk before it sleeps: a stream of chunks
// earns a short spin on a crowded node, a lone chunk none, and a task process that
// shares its rank's core yields that core instead of pausing on it.

#include <catch2/catch.hpp>

#include <chrono>

#include "task_process.hpp"

using mpipool::detail::spin_style;
using mpipool::detail::task_process;
using std::chrono::microseconds;
using wait = task_process::input_wait;

TEST_CASE("a task process spins after a stream of chunks, not after a lone one", "[task_process]") {
  const microseconds crowded{0};  // idle_spin on a node without a core for each process
  CHECK(task_process::wait_before_sleep(1, false, crowded) == wait{microseconds(0), spin_style::pause_first});
  CHECK(task_process::wait_before_sleep(3, false, crowded) == wait{microseconds(0), spin_style::pause_first});
  CHECK(task_process::wait_before_sleep(4, false, crowded) == wait{microseconds(20), spin_style::pause_first});
  CHECK(task_process::wait_before_sleep(500, false, crowded) == wait{microseconds(20), spin_style::pause_first});
}

TEST_CASE("a task process on its rank's only core only yields it; one with a core of its own keeps its spin",
          "[task_process]") {
  CHECK(task_process::wait_before_sleep(1, true, microseconds(0)) == wait{microseconds(30), spin_style::yield_only});
  CHECK(task_process::wait_before_sleep(500, true, microseconds(0)) == wait{microseconds(30), spin_style::yield_only});
  CHECK(task_process::wait_before_sleep(1, false, microseconds(200)) == wait{microseconds(200), spin_style::pause_first});
  CHECK(task_process::wait_before_sleep(500, false, microseconds(200)) ==
        wait{microseconds(200), spin_style::pause_first});
}
