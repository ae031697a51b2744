// A job for the tests that end the master or a worker from outside.
//   long_job callbacks            10 quick tasks with slow callbacks; once every result has
//                                 arrived, the master sends itself SIGTERM. Each callback must
//                                 still run before the process ends.
//   long_job work <dir> <n> <ms>  n tasks of ms each (retries=1); each task writes its worker
//                                 rank's pid into <dir>, the master its own pid. Prints "done n".

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <mpipool/mpipool.hpp>

int quick(int x) { return x; }
MPIPOOL_TASK(quick);

int nap_and_note_rank(int ms, std::string dir) {
  std::ofstream(dir + "/rank-" + std::to_string(::getppid())) << ::getppid();  // the rank is our parent
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
MPIPOOL_TASK(nap_and_note_rank);

namespace {

void callbacks_then_sigterm(mpipool::environment& env) {
  mpipool::pool pool(env);
  std::vector<mpipool::async_result<int>> results;
  for (int i = 0; i < 10; ++i) {
    results.push_back(pool.apply_async(quick, i));
    results.back().then([](int x) {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // slow, so SIGTERM finds them queued
      std::printf("callback %d\n", x);
      std::fflush(stdout);
    });
  }
  // Poll without driving the pool: the progress thread receives the results and runs the callbacks.
  for (auto& r : results) {
    while (!r.ready()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("all results received\n");
  std::fflush(stdout);
  ::kill(::getpid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::seconds(60));  // the signal ends us first
}

void work(mpipool::environment& env, const std::string& dir, int n, int ms) {
  std::ofstream(dir + "/master") << ::getpid();
  mpipool::pool pool(env, {.retries = 1});
  std::vector<std::pair<int, std::string>> naps(static_cast<std::size_t>(n), {ms, dir});
  const auto done = pool.starmap(nap_and_note_rank, naps, {.chunksize = 1});
  std::printf("done %zu\n", done.size());
}

}  // namespace

int main(int argc, char** argv) {
  mpipool::environment env(argc, argv);
  if (env.is_worker()) return env.serve();
  try {
    if (argc > 1 && std::strcmp(argv[1], "callbacks") == 0) callbacks_then_sigterm(env);
    if (argc > 4 && std::strcmp(argv[1], "work") == 0) work(env, argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  } catch (const mpipool::error& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return 0;
}
