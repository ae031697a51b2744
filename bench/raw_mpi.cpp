// The physical limit: a plain hand-written MPI master/worker in C++, with no
// serialization library. Rank 0 keeps `window` messages in flight per worker and
// hands out work dynamically; each worker answers every message.
// Prints CSV rows like pool_bench: workload,param,workers,value,unit
//
//   mpirun -n W+1 raw_mpi tasks <items> <chunksize> <window>   W1: items/s
//   mpirun -n 2   raw_mpi roundtrip <calls>                    W2: microseconds per round trip, and
//                                                              per round trip through a child process
//   mpirun -n 2   raw_mpi roundtrip_mt <calls>                 W2 under MPI_THREAD_MULTIPLE, the thread
//                                                              level mpipool runs at (its progress thread)
//   mpirun -n W+1 raw_mpi balance <tasks> <mean ms> <seed>     W3: makespan / ideal (window 2)
//   mpirun -n 2   raw_mpi echo <MiB> <repeats>                 W4: GB/s
//   mpirun -n 3   raw_mpi idle <seconds>                       W6: master CPU s / wall s

#include <mpi.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <memory>
#include <vector>

#include "cpu_affinity.hpp"  // src/: header-only, no mpipool library
#include "handoff.hpp"
#include "workloads.hpp"

namespace {

constexpr int tag_work = 1;
constexpr int tag_busy = 2;  // the payload is a duration in seconds to compute for
constexpr int tag_stop = 3;
constexpr int tag_handoff = 4;  // as tag_work, but the worker's child process answers

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Workers answer every message: work is echoed, busy is computed, handoff goes through a
/// child process, forked when the first one arrives. The echo's loop is the no-op task
/// applied in place; the compiler removes it (the function compiles to a bare `ret`), so
/// raw MPI's worker sends each message back untouched: the physical limit of a no-op.
void serve() {
  std::vector<char> buffer;
  std::unique_ptr<bench::handoff_child> child;
  for (;;) {
    MPI_Status status;
    MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    buffer.resize(static_cast<std::size_t>(count));
    MPI_Recv(buffer.data(), count, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (status.MPI_TAG == tag_stop) return;
    if (status.MPI_TAG == tag_busy) {
      double seconds = 0;
      std::memcpy(&seconds, buffer.data(), sizeof seconds);
      bench::busy_for(seconds);
    } else if (status.MPI_TAG == tag_handoff) {
      // mpipool's rule for whether a task process has a core of its own.
      if (!child) child = std::make_unique<bench::handoff_child>(mpipool::detail::task_process_has_own_core());
      child->round_trip(buffer.data(), count);
    } else {
      auto* values = reinterpret_cast<int*>(buffer.data());
      for (std::size_t i = 0; i < buffer.size() / sizeof(int); ++i) values[i] = values[i] + 0;
    }
    MPI_Send(buffer.data(), count, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD);
  }
}

/// Sends one message to worker `w`. A large message goes out non-blocking, as mpipool
/// sends it: two blocking rendezvous sends in a row to a worker that is itself
/// blocked sending its answer would deadlock. Its bytes must outlive run_window.
void send_to(int w, const std::vector<char>& bytes, int tag, std::vector<MPI_Request>& large_sends) {
  constexpr std::size_t eager_bytes = 4096;  // Open MPI's shared-memory eager limit
  if (bytes.size() <= eager_bytes) {
    MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, w, tag, MPI_COMM_WORLD);
    return;
  }
  large_sends.emplace_back();
  MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, w, tag, MPI_COMM_WORLD, &large_sends.back());
}

/// Sends `messages` messages from `next`, keeping `window` in flight per worker; returns seconds.
template <class Next>
double run_window(int size, long messages, int window, int tag, Next next) {
  std::vector<char> reply;
  std::vector<MPI_Request> large_sends;
  const auto start = std::chrono::steady_clock::now();
  long sent = 0;
  for (int k = 0; k < window; ++k) {
    for (int w = 1; w < size && sent < messages; ++w, ++sent) send_to(w, next(sent), tag, large_sends);
  }
  for (long received = 0; received < messages; ++received) {
    MPI_Status status;
    MPI_Probe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    reply.resize(static_cast<std::size_t>(count));
    MPI_Recv(reply.data(), count, MPI_BYTE, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (sent < messages) {
      send_to(status.MPI_SOURCE, next(sent), tag, large_sends);
      ++sent;
    }
  }
  MPI_Waitall(static_cast<int>(large_sends.size()), large_sends.data(), MPI_STATUSES_IGNORE);
  return seconds_since(start);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::vector<char> seconds_message(double seconds) {
  std::vector<char> bytes(sizeof seconds);
  std::memcpy(bytes.data(), &seconds, sizeof seconds);
  return bytes;
}

/// Microseconds per sequential round trip of a small message with `tag`, after 200 to warm up.
double roundtrip_us(int size, long calls, int tag) {
  const std::vector<char> message(sizeof(int), 1);
  run_window(size, 200, 1, tag, [&message](long) -> const std::vector<char>& { return message; });
  const double seconds = run_window(2, calls, 1, tag, [&message](long) -> const std::vector<char>& { return message; });
  return seconds / static_cast<double>(calls) * 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  // Every MPI call takes Open MPI's locks at MPI_THREAD_MULTIPLE: measured apart.
  const bool thread_multiple = argc > 1 && std::string(argv[1]) == "roundtrip_mt";
  int provided = 0;
  MPI_Init_thread(&argc, &argv, thread_multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_SINGLE, &provided);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank != 0) {
    serve();
    MPI_Finalize();
    return 0;
  }
  const std::string workload = argc > 1 ? argv[1] : "tasks";
  auto arg = [&](int i, double fallback) { return argc > i ? std::atof(argv[i]) : fallback; };
  const int workers = size - 1;

  if (workload == "tasks") {
    const auto items = static_cast<long>(arg(2, 200000));
    const auto chunksize = static_cast<long>(arg(3, 1));
    const std::vector<char> chunk(static_cast<std::size_t>(chunksize) * sizeof(int), 7);
    const long messages = (items + chunksize - 1) / chunksize;
    const auto window = static_cast<int>(arg(4, 8));
    const double rate = bench::steady_rate(static_cast<double>(items), [&] {
      return run_window(size, messages, window, tag_work, [&chunk](long) -> const std::vector<char>& { return chunk; });
    });
    std::printf("tasks,%ld,%d,%.1f,items/s\n", chunksize, workers, rate);
  } else if (workload == "roundtrip_mt") {
    std::printf("roundtrip_mt,1,%d,%.3f,us\n", workers, roundtrip_us(size, static_cast<long>(arg(2, 10000)), tag_work));
  } else if (workload == "roundtrip") {
    const auto calls = static_cast<long>(arg(2, 10000));
    std::printf("roundtrip,1,%d,%.3f,us\n", workers, roundtrip_us(size, calls, tag_work));
    // The same through a child process of the worker: the floor of mpipool's supervised mode.
    std::printf("roundtrip_handoff,1,%d,%.3f,us\n", workers, roundtrip_us(size, calls, tag_handoff));
  } else if (workload == "balance") {
    const auto durations = bench::exponential_durations(static_cast<int>(arg(2, 2000)), arg(3, 2.0) / 1000.0,
                                                        static_cast<unsigned>(arg(4, 42)));
    std::vector<char> message;
    const double seconds = run_window(size, static_cast<long>(durations.size()), 2, tag_busy,
                                      [&](long i) -> const std::vector<char>& {
                                        message = seconds_message(durations[static_cast<std::size_t>(i)]);
                                        return message;
                                      });
    std::printf("balance,%zu,%d,%.4f,makespan/ideal\n", durations.size(), workers,
                seconds / bench::ideal_makespan(durations, workers));
  } else if (workload == "echo") {
    const auto mib = static_cast<std::size_t>(arg(2, 64));
    const int repeats = static_cast<int>(arg(3, 3));
    std::vector<char> buffer(mib << 20, 1);
    std::vector<double> rates;
    for (int r = 0; r < repeats + 1; ++r) {
      const auto start = std::chrono::steady_clock::now();
      MPI_Send(buffer.data(), static_cast<int>(buffer.size()), MPI_BYTE, 1, tag_work, MPI_COMM_WORLD);
      MPI_Recv(buffer.data(), static_cast<int>(buffer.size()), MPI_BYTE, 1, tag_work, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      if (r > 0) rates.push_back(2.0 * static_cast<double>(buffer.size()) / seconds_since(start) / 1e9);
    }
    std::printf("echo,%zu,%d,%.3f,GB/s\n", mib, workers, bench::median(rates));
  } else if (workload == "idle") {
    const double seconds = arg(2, 5);
    const double before = cpu_seconds();
    const double wall = run_window(size, 2, 1, tag_busy, [message = seconds_message(seconds)](long) -> const auto& {
      return message;
    });
    std::printf("idle,%g,%d,%.4f,cpu/wall\n", seconds, workers, (cpu_seconds() - before) / wall);
  }
  for (int w = 1; w < size; ++w) MPI_Send(nullptr, 0, MPI_BYTE, w, tag_stop, MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}
