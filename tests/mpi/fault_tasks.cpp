#include "fault_tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

int crash_now(int kind) {
  switch (kind) {
    case 0:
      std::raise(SIGSEGV);
      break;
    case 1:
      std::abort();
    case 2:
      std::terminate();
    case 3:
      std::exit(3);
    default:
      std::raise(SIGKILL);
  }
  return -1;
}

int double_or_crash(int x) {
  if (chosen_to_crash(x)) crash_now(crash_kind(x));
  return 2 * x;
}

int crash_once(int x, std::string dir) {
  if (chosen_to_crash(x)) {
    const std::string marker = dir + "/" + std::to_string(x);
    // O_EXCL: exactly one attempt creates the marker and crashes.
    const int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd >= 0) {
      ::close(fd);
      crash_now(crash_kind(x));
    }
  }
  return 2 * x;
}

long note_pid_and_sleep(int ms, std::string dir) {
  std::ofstream(dir + "/" + std::to_string(::getpid())) << ::getpid();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<long>(::getpid());
}

long task_process_id(int) { return static_cast<long>(::getpid()); }

std::size_t hog_memory(int megabytes) {
  std::vector<char> block(static_cast<std::size_t>(megabytes) << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
  return block.size();
}

int crash_two_levels_down(int kind) {
  mpipool::pool sub(2, {.spawn = {.oversubscribe = true}});
  return sub.apply(crash_now, kind);
}

namespace {
int nap_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
}  // namespace

int crash_while_subpool_runs(int ms) {
  mpipool::pool sub(2, {.spawn = {.oversubscribe = true}});
  auto running = sub.map_async(nap_ms, std::vector<int>{ms, ms, ms, ms});
  std::this_thread::sleep_for(std::chrono::milliseconds(ms / 4));
  std::raise(SIGSEGV);
  return running.get().front();
}

MPIPOOL_TASK(crash_now);
MPIPOOL_TASK(double_or_crash);
MPIPOOL_TASK(crash_once);
MPIPOOL_TASK(note_pid_and_sleep);
MPIPOOL_TASK(task_process_id);
MPIPOOL_TASK(hog_memory);
MPIPOOL_TASK(crash_two_levels_down);
MPIPOOL_TASK(nap_ms);
MPIPOOL_TASK(crash_while_subpool_runs);
