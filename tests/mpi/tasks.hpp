#pragma once
// Tasks shared by the MPI tests. Each is registered once, in tasks.cpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <mpipool/mpipool.hpp>

struct measurement {
  std::string label;
  std::vector<double> samples;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & label & samples;
  }
  bool operator==(const measurement&) const = default;
};

/// Loads only non-negative values: a result that the master cannot deserialize.
struct fragile {
  int value = 0;
  template <class Archive>
  void save(Archive& archive, unsigned) const {
    archive << value;
  }
  template <class Archive>
  void load(Archive& archive, unsigned) {
    archive >> value;
    if (value < 0) throw std::runtime_error("fragile: negative value cannot be loaded");
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()
};

int square(int x);
std::int64_t square_wide(std::int64_t x);
int add(int a, int b);
double scale(double x, double factor);
std::string shout(const std::string& text);
std::vector<int> iota_vector(int n);
std::map<std::string, int> count_words(const std::vector<std::string>& words);
std::tuple<int, std::string> pair_up(std::pair<int, std::string> p);
std::optional<int> maybe_half(int x);
measurement summarize(measurement m);
void touch(int x);
bool is_even(int x);
int answer();
int fail_on(int x, int bad);
int fail_on_three(int x);
int throw_non_std(int x);
fragile make_fragile(int value);
int worker_rank(int ignored);
void set_worker_tag(std::string tag);
std::string worker_tag(int ignored);
int sleep_ms(int ms);
