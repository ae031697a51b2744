// When a task process spins for its next chunk before it sleeps: a stream of
// chunks earns a short spin on a crowded node, a lone chunk or a shared core none.

#include <catch2/catch.hpp>

#include <chrono>

#include "task_process.hpp"

using mpipool::detail::task_process;
using std::chrono::microseconds;

TEST_CASE("a task process spins after a stream of chunks, not after a lone one", "[task_process]") {
  const microseconds crowded{0};  // idle_spin on a node without a core for each process
  CHECK(task_process::spin_before_sleep(1, false, crowded) == microseconds(0));
  CHECK(task_process::spin_before_sleep(3, false, crowded) == microseconds(0));
  CHECK(task_process::spin_before_sleep(4, false, crowded) == microseconds(20));
  CHECK(task_process::spin_before_sleep(500, false, crowded) == microseconds(20));
}

TEST_CASE("a task process on its rank's only core never spins; one with a core of its own keeps its spin",
          "[task_process]") {
  CHECK(task_process::spin_before_sleep(500, true, microseconds(0)) == microseconds(0));
  CHECK(task_process::spin_before_sleep(1, false, microseconds(200)) == microseconds(200));
  CHECK(task_process::spin_before_sleep(500, false, microseconds(200)) == microseconds(200));
}
