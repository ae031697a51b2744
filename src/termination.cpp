#include "termination.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace mpipool::detail {

namespace {

int wake_pipe[2] = {-1, -1};
volatile std::sig_atomic_t received = 0;
std::thread watcher;
struct sigaction previous_term {};
struct sigaction previous_int {};

void on_signal(int sig) {
  received = sig;
  const char byte = 1;
  [[maybe_unused]] const auto ignored = ::write(wake_pipe[1], &byte, 1);  // async-signal-safe
}

}  // namespace

void install_termination_handlers(std::function<void()> on_terminate) {
  if (const char* off = std::getenv("MPIPOOL_NO_SIGNAL_HANDLERS"); off != nullptr && off[0] == '1') return;
  if (::pipe2(wake_pipe, O_CLOEXEC) != 0) return;
  watcher = std::thread([on_terminate = std::move(on_terminate)] {
    char byte = 0;
    if (::read(wake_pipe[0], &byte, 1) != 1 || received == 0) return;  // closed: the process ends normally
    const int sig = received;
    std::fprintf(stderr, "mpipool: master got signal %d: delivering received results, stopping workers\n", sig);
    on_terminate();
    std::fflush(nullptr);
    std::signal(sig, SIG_DFL);
    std::raise(sig);  // end as the signal would have ended us
  });
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, &previous_term);
  sigaction(SIGINT, &action, &previous_int);
}

void remove_termination_handlers() {
  if (!watcher.joinable()) return;
  sigaction(SIGTERM, &previous_term, nullptr);
  sigaction(SIGINT, &previous_int, nullptr);
  ::close(wake_pipe[1]);  // the watcher reads end-of-file and returns
  watcher.join();
  ::close(wake_pipe[0]);
}

}  // namespace mpipool::detail
