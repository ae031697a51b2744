#pragma once
// Tasks that crash on purpose, for the fault-injection tests.

#include <csignal>
#include <cstdint>
#include <string>

/// About 1% of inputs are chosen to crash, by a fixed hash, so tests know which.
inline bool chosen_to_crash(int x) { return (static_cast<std::uint32_t>(x) * 2654435761U >> 7) % 100 == 0; }

/// How input x crashes: 0 SIGSEGV, 1 abort(), 2 std::terminate(), 3 exit(3), 4 SIGKILL.
inline int crash_kind(int x) { return x % 5; }
inline int expected_signal(int kind) { return kind == 0 ? SIGSEGV : kind == 4 ? SIGKILL : kind == 3 ? 0 : SIGABRT; }

/// Returns 2x, or crashes if x was chosen.
int double_or_crash(int x);
/// Like double_or_crash, but crashes only on the first attempt (a marker file in `dir` remembers).
int crash_once(int x, std::string dir);
/// Crashes with the given kind.
int crash_now(int kind);
/// Writes its pid to `dir`, then sleeps: a test kills it from outside.
long note_pid_and_sleep(int ms, std::string dir);
long task_process_id(int ignored);
/// Allocates and touches `megabytes`.
std::size_t hog_memory(int megabytes);
/// A task whose sub-pool's task crashes: the error comes up two levels.
int crash_two_levels_down(int kind);
/// Opens a sub-pool, starts work on it, then crashes itself.
int crash_while_subpool_runs(int ms);
