// How a task process waits for its next chunk before it sleeps: a stream of chunks
// earns a short spin on a crowded node, a lone chunk none, and a task process that
// shares its rank's core yields that core instead of pausing on it.

#include <catch2/catch.hpp>

#include <chrono>

#include "task_process.hpp"

using mpipool::detail::shared_core_spin;
using mpipool::detail::spin_style;
using mpipool::detail::task_process;
using std::chrono::microseconds;

namespace {

/// Checks field by field, so that a failure prints both.
void check_wait(const task_process::input_wait& got, microseconds spin, spin_style style) {
  CHECK(got.spin.count() == spin.count());
  CHECK(got.style == style);
}

}  // namespace

TEST_CASE("a task process spins after a stream of chunks, not after a lone one", "[task_process]") {
  const microseconds crowded{0};  // idle_spin on a node without a core for each process
  check_wait(task_process::wait_before_sleep(1, false, crowded), microseconds(0), spin_style::pause_first);
  check_wait(task_process::wait_before_sleep(3, false, crowded), microseconds(0), spin_style::pause_first);
  check_wait(task_process::wait_before_sleep(4, false, crowded), microseconds(20), spin_style::pause_first);
  check_wait(task_process::wait_before_sleep(500, false, crowded), microseconds(20), spin_style::pause_first);
}

TEST_CASE("a task process with a core of its own keeps its spin", "[task_process]") {
  check_wait(task_process::wait_before_sleep(1, false, microseconds(200)), microseconds(200), spin_style::pause_first);
  check_wait(task_process::wait_before_sleep(500, false, microseconds(200)), microseconds(200),
             spin_style::pause_first);
}

TEST_CASE("a task process on its rank's only core only yields it, for as long as it is told", "[task_process]") {
  check_wait(task_process::wait_before_sleep(1, true, shared_core_spin), shared_core_spin, spin_style::yield_only);
  check_wait(task_process::wait_before_sleep(500, true, shared_core_spin), shared_core_spin, spin_style::yield_only);
  // MPIPOOL_TASK_SPIN_US=0: no stream spin either, it sleeps at once.
  check_wait(task_process::wait_before_sleep(500, true, microseconds(0)), microseconds(0), spin_style::yield_only);
}
