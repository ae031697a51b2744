// The physical limit: a plain hand-written MPI master/worker in C++, with no
// serialization library. Rank 0 keeps `window` messages in flight per worker;
// each worker answers every message with one of the same size.
//
//   mpirun -n 3 raw_mpi tasks <items> <chunksize> <window>   items/s
//   mpirun -n 2 raw_mpi roundtrip <calls> <bytes>             microseconds per round trip
//   mpirun -n 2 raw_mpi echo <bytes> <repeats>                GB/s (bytes there and back / time)
// Prints one CSV row: workload,workers,value,unit

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int tag_work = 1;
constexpr int tag_stop = 2;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Workers echo every message until told to stop.
void serve() {
  std::vector<char> buffer;
  for (;;) {
    MPI_Status status;
    MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    buffer.resize(static_cast<std::size_t>(count));
    MPI_Recv(buffer.data(), count, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (status.MPI_TAG == tag_stop) return;
    // The task: read each int and write it back (the no-op of the benchmark).
    auto* values = reinterpret_cast<int*>(buffer.data());
    for (std::size_t i = 0; i < buffer.size() / sizeof(int); ++i) values[i] = values[i] + 0;
    MPI_Send(buffer.data(), count, MPI_BYTE, 0, tag_work, MPI_COMM_WORLD);
  }
}

void stop_workers(int size) {
  for (int w = 1; w < size; ++w) MPI_Send(nullptr, 0, MPI_BYTE, w, tag_stop, MPI_COMM_WORLD);
}

/// Dynamic load balancing with `window` messages in flight per worker.
double tasks(int size, long items, long chunksize, int window) {
  const long messages = (items + chunksize - 1) / chunksize;
  std::vector<int> payload(static_cast<std::size_t>(chunksize), 7);
  std::vector<int> reply(static_cast<std::size_t>(chunksize));
  const int bytes = static_cast<int>(chunksize * sizeof(int));
  const auto start = std::chrono::steady_clock::now();
  long sent = 0;
  long received = 0;
  for (int k = 0; k < window; ++k) {
    for (int w = 1; w < size && sent < messages; ++w, ++sent) {
      MPI_Send(payload.data(), bytes, MPI_BYTE, w, tag_work, MPI_COMM_WORLD);
    }
  }
  while (received < messages) {
    MPI_Status status;
    MPI_Recv(reply.data(), bytes, MPI_BYTE, MPI_ANY_SOURCE, tag_work, MPI_COMM_WORLD, &status);
    ++received;
    if (sent < messages) {
      MPI_Send(payload.data(), bytes, MPI_BYTE, status.MPI_SOURCE, tag_work, MPI_COMM_WORLD);
      ++sent;
    }
  }
  return static_cast<double>(items) / seconds_since(start);
}

double roundtrip(long calls, int bytes) {
  std::vector<char> buffer(static_cast<std::size_t>(bytes), 1);
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) {
    MPI_Send(buffer.data(), bytes, MPI_BYTE, 1, tag_work, MPI_COMM_WORLD);
    MPI_Recv(buffer.data(), bytes, MPI_BYTE, 1, tag_work, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  return seconds_since(start) / static_cast<double>(calls) * 1e6;
}

double echo(long bytes, int repeats) {
  std::vector<char> buffer(static_cast<std::size_t>(bytes), 1);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    MPI_Send(buffer.data(), static_cast<int>(bytes), MPI_BYTE, 1, tag_work, MPI_COMM_WORLD);
    MPI_Recv(buffer.data(), static_cast<int>(bytes), MPI_BYTE, 1, tag_work, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    const double rate = 2.0 * static_cast<double>(bytes) / seconds_since(start) / 1e9;
    best = rate > best ? rate : best;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
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
  auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
  if (workload == "tasks") {
    std::printf("tasks,%d,%.1f,items/s\n", size - 1, tasks(size, arg(2, 200000), arg(3, 1), static_cast<int>(arg(4, 8))));
  } else if (workload == "roundtrip") {
    std::printf("roundtrip,%d,%.3f,us\n", size - 1, roundtrip(arg(2, 10000), static_cast<int>(arg(3, 4))));
  } else if (workload == "echo") {
    std::printf("echo,%d,%.3f,GB/s\n", size - 1, echo(arg(2, 1 << 20), static_cast<int>(arg(3, 3))));
  }
  stop_workers(size);
  MPI_Finalize();
  return 0;
}
