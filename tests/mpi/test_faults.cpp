// A crashing task never takes the pool down. Runs under `mpirun -n 3`.

#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "fault_tasks.hpp"
#include "mpi_main.hpp"
#include "tasks.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A fresh directory for marker files, removed at the end of the test.
struct scratch_dir {
  scratch_dir() {
    char pattern[] = "/tmp/mpipool-faults-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~scratch_dir() { fs::remove_all(path); }
  std::string path;
};

std::vector<int> inputs(int n) {
  std::vector<int> xs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) xs[static_cast<std::size_t>(i)] = i;
  return xs;
}

}  // namespace

TEST_CASE("1% of 1000 tasks crash in every way; exactly those fail, with their signal or status", "[faults]") {
  auto pool = static_pool();
  const auto outcomes = pool.map_outcomes(double_or_crash, inputs(1000));
  int crashed = 0;
  for (int x = 0; x < 1000; ++x) {
    const auto& item = outcomes[static_cast<std::size_t>(x)];
    if (!chosen_to_crash(x)) {
      REQUIRE(item.ok());
      CHECK(item.value() == 2 * x);
      continue;
    }
    ++crashed;
    REQUIRE_FALSE(item.ok());
    try {
      std::rethrow_exception(item.error());
    } catch (const mpipool::worker_lost& e) {
      CHECK(e.task() == "double_or_crash");
      CHECK(e.signal() == expected_signal(crash_kind(x)));
      if (crash_kind(x) == 3) CHECK(e.exit_status() == 3);
      CHECK(e.where().rank >= 1);
      CHECK_FALSE(e.where().host.empty());
    }
  }
  CHECK(crashed >= 5);  // the hash picks about ten
  CHECK(pool.apply(square, 7) == 49);  // still at full strength
}

TEST_CASE("a crash inside a large chunk, read where MPI put it, fails only its item", "[faults][large]") {
  // Chunks of 80 KB: the task process reads their items in the rank's shared arena.
  // Three of them crash (SIGSEGV), one in each chunk, the first early in its block.
  std::vector<int> xs;
  for (int x = 0; xs.size() < 60000; ++x) {
    if (!chosen_to_crash(x)) xs.push_back(x);
  }
  std::vector<int> crashers;
  for (int x = 0; crashers.size() < 3; ++x) {
    if (chosen_to_crash(x) && crash_kind(x) == 0) crashers.push_back(x);
  }
  const std::size_t at[3] = {5, 20000 + 9999, 59999};
  for (int i = 0; i < 3; ++i) xs[at[i]] = crashers[static_cast<std::size_t>(i)];
  auto pool = static_pool();
  const auto outcomes = pool.map_outcomes(double_or_crash, xs, {.chunksize = 20000});
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const bool crasher = i == at[0] || i == at[1] || i == at[2];
    if (!crasher) {
      REQUIRE(outcomes[i].ok());
      REQUIRE(outcomes[i].value() == 2 * xs[i]);
      continue;
    }
    REQUIRE_FALSE(outcomes[i].ok());
    CHECK_THROWS_AS(std::rethrow_exception(outcomes[i].error()), mpipool::worker_lost);
  }
  CHECK(pool.apply(square, 7) == 49);
}

TEST_CASE("with retries=2, tasks that crash only on their first attempt all succeed", "[faults][retries]") {
  scratch_dir markers;
  mpipool::pool_options options;
  options.retries = 2;
  auto pool = static_pool(options);
  std::vector<std::pair<int, std::string>> items;
  for (int x = 0; x < 1000; ++x) items.emplace_back(x, markers.path);
  const auto ys = pool.starmap(crash_once, items);
  for (int x = 0; x < 1000; ++x) CHECK(ys[static_cast<std::size_t>(x)] == 2 * x);
  // Each chosen input crashed once: its marker file exists.
  for (int x = 0; x < 1000; ++x) CHECK(fs::exists(markers.path + "/" + std::to_string(x)) == chosen_to_crash(x));
}

TEST_CASE("retries per call override the pool's; a task that always crashes still fails", "[faults][retries]") {
  auto pool = static_pool();
  CHECK_THROWS_AS(pool.apply({.retries = 3}, crash_now, 0), mpipool::worker_lost);
  scratch_dir markers;
  int chosen = 0;
  while (!chosen_to_crash(chosen)) ++chosen;
  CHECK(pool.apply({.retries = 1}, crash_once, chosen, markers.path) == 2 * chosen);  // crashed once, then ran
}

TEST_CASE("a task process killed from outside fails its task only; with a retry it succeeds", "[faults][kill]") {
  for (int retries : {0, 1}) {
    scratch_dir pids;
    auto pool = static_pool({.retries = retries});
    std::vector<mpipool::async_result<long>> naps;
    for (int i = 0; i < 6; ++i) naps.push_back(pool.apply_async(note_pid_and_sleep, 1500, pids.path));
    // Wait until a task process has started, then kill it.
    pid_t victim = 0;
    for (int tries = 0; tries < 3000 && victim == 0; ++tries) {
      for (const auto& entry : fs::directory_iterator(pids.path)) victim = std::stoi(entry.path().filename());
      if (victim == 0) std::this_thread::sleep_for(10ms);
    }
    REQUIRE(victim != 0);
    REQUIRE(::kill(victim, SIGKILL) == 0);
    const auto killed_at = std::chrono::steady_clock::now();
    if (retries == 0) {
      // Detection is bounded: the loss is reported long before any sleeper could finish.
      mpipool::async_result<long>* lost = nullptr;
      while (lost == nullptr && std::chrono::steady_clock::now() - killed_at < 60s) {
        for (auto& r : naps) {
          if (r.ready() && !r.successful()) lost = &r;
        }
        std::this_thread::sleep_for(1ms);
      }
      REQUIRE(lost != nullptr);
      CHECK(std::chrono::steady_clock::now() - killed_at < 1s);
      try {
        lost->get();
        FAIL("no error");
      } catch (const mpipool::worker_lost& e) {
        CHECK(e.signal() == SIGKILL);
        CHECK(e.where().pid == victim);
      }
      int succeeded = 0;
      for (auto& r : naps) succeeded += r.wait(60s) && r.successful() ? 1 : 0;
      CHECK(succeeded == 5);
    } else {
      for (auto& r : naps) CHECK(r.get() > 0);
    }
    CHECK(pool.apply(square, 3) == 9);
  }
}

TEST_CASE("a hung task times out and the worker is usable again", "[faults][timeout]") {
  auto pool = static_pool({.timeout = 300ms});
  const auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(pool.apply(sleep_ms, 60'000), Catch::Contains("timeout of 300 ms"));
  CHECK(std::chrono::steady_clock::now() - started < 30s);  // stopped, not waited out
  CHECK_THROWS_AS(pool.apply(sleep_ms, 60'000), mpipool::timeout_error);
  CHECK(pool.apply(square, 5) == 25);
  const auto outcomes = pool.map_outcomes(sleep_ms, std::vector<int>{10, 60'000, 10}, {.chunksize = 3});
  CHECK(outcomes[0].ok());
  CHECK_FALSE(outcomes[1].ok());
  CHECK(outcomes[2].ok());  // the item after the hung one ran in a fresh task process
  CHECK(pool.apply({.timeout = 60'000ms}, sleep_ms, 400) == 400);  // a call may allow longer
}

TEST_CASE("maxtasksperchild replaces each task process after n tasks", "[faults][recycle]") {
  auto pool = static_pool({.maxtasksperchild = 5});
  const auto pids = pool.map(task_process_id, std::vector<int>(60, 0), {.chunksize = 1});
  std::map<long, int> tasks_per_process;
  for (long pid : pids) ++tasks_per_process[pid];
  for (const auto& [pid, tasks] : tasks_per_process) CHECK(tasks <= 5);
  CHECK(tasks_per_process.size() >= 12);
  // Chunks larger than the quota are split across task processes.
  const auto chunked = pool.map(task_process_id, std::vector<int>(30, 0), {.chunksize = 30});
  std::map<long, int> per_chunk_process;
  for (long pid : chunked) ++per_chunk_process[pid];
  for (const auto& [pid, tasks] : per_chunk_process) CHECK(tasks <= 5);
}

TEST_CASE("a task that runs out of memory fails alone", "[faults][memory]") {
  auto pool = static_pool({.task_memory_limit = std::size_t{256} << 20});
  CHECK(pool.apply(hog_memory, 16) == std::size_t{16} << 20);
  try {
    pool.apply(hog_memory, 4096);
    FAIL("4 GiB fitted in 256 MiB");
  } catch (const mpipool::remote_error& e) {
    CHECK(e.exception_type() == "std::bad_alloc");
  } catch (const mpipool::worker_lost& e) {
    CHECK(e.signal() != 0);  // killed for it instead: also fine, also alone
  }
  CHECK(pool.apply(hog_memory, 16) == std::size_t{16} << 20);
}

TEST_CASE("a crash two levels down reaches the top as that level's worker_lost", "[faults][nested]") {
  auto pool = static_pool();
  try {
    pool.apply(crash_two_levels_down, 0);
    FAIL("no error");
  } catch (const mpipool::remote_error& e) {
    CHECK(e.exception_type() == "mpipool::worker_lost");
    CHECK_THAT(e.message(), Catch::Contains("signal 11"));
    CHECK(e.trace().back().depth == 1);
  }
  CHECK(pool.apply(square, 2) == 4);
}

TEST_CASE("a task that crashes while its own sub-pool runs fails alone", "[faults][nested]") {
  auto pool = static_pool();
  CHECK_THROWS_AS(pool.apply(crash_while_subpool_runs, 400), mpipool::worker_lost);
  CHECK(pool.apply(square, 4) == 16);
}
