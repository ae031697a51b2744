#include "tasks.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <mpi.h>

int square(int x) { return x * x; }
std::int64_t square_wide(std::int64_t x) { return x * x; }
int add(int a, int b) { return a + b; }
double scale(double x, double factor) { return x * factor; }
std::string shout(const std::string& text) { return text + "!"; }
std::vector<int> iota_vector(int n) {
  std::vector<int> values(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = i;
  return values;
}
std::map<std::string, int> count_words(const std::vector<std::string>& words) {
  std::map<std::string, int> counts;
  for (const auto& w : words) ++counts[w];
  return counts;
}
std::tuple<int, std::string> pair_up(std::pair<int, std::string> p) { return {p.first * 2, p.second + p.second}; }
std::optional<int> maybe_half(int x) { return x % 2 == 0 ? std::optional<int>(x / 2) : std::nullopt; }
measurement summarize(measurement m) {
  double sum = 0;
  for (double s : m.samples) sum += s;
  m.samples = {sum};
  m.label += ":sum";
  return m;
}
void touch(int) {}
bool is_even(int x) { return x % 2 == 0; }
int answer() { return 42; }
int fail_on(int x, int bad) {
  if (x == bad) throw std::domain_error("item " + std::to_string(x) + " is bad");
  return x;
}
int fail_on_three(int x) { return fail_on(x, 3); }
int throw_non_std(int x) { throw x; }
fragile make_fragile(int value) { return fragile{value}; }
int worker_rank(int) {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

namespace {
std::string the_worker_tag = "unset";
}
void set_worker_tag(std::string tag) { the_worker_tag = std::move(tag); }
std::string worker_tag(int) { return the_worker_tag; }
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

MPIPOOL_TASK(square);
MPIPOOL_TASK(square_wide);
MPIPOOL_TASK(add);
MPIPOOL_TASK(scale);
MPIPOOL_TASK(shout);
MPIPOOL_TASK(iota_vector);
MPIPOOL_TASK(count_words);
MPIPOOL_TASK(pair_up);
MPIPOOL_TASK(maybe_half);
MPIPOOL_TASK(summarize);
MPIPOOL_TASK(touch);
MPIPOOL_TASK(is_even);
MPIPOOL_TASK(answer);
MPIPOOL_TASK(fail_on);
MPIPOOL_TASK(fail_on_three);
MPIPOOL_TASK(throw_non_std);
MPIPOOL_TASK(make_fragile);
MPIPOOL_TASK(worker_rank);
MPIPOOL_TASK(set_worker_tag);
MPIPOOL_TASK(worker_tag);
MPIPOOL_TASK(sleep_ms);
