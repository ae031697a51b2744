#include <catch2/catch.hpp>

#include <boost/archive/binary_oarchive.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <mpipool/serialization.hpp>

namespace {

struct particle {
  double x = 0;
  double y = 0;
  std::string name;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & x & y & name;
  }
  bool operator==(const particle&) const = default;
};

template <class T>
T round_trip(const T& value) {
  const auto bytes = mpipool::to_bytes(value);
  return mpipool::from_bytes<T>(bytes.view());
}

/// Bytes as a plain Boost binary archive (no header) would write them.
template <class T>
std::string boost_bytes(const T& value) {
  mpipool::detail::byte_buffer out;
  mpipool::detail::buffer_sink sink(out);
  boost::archive::binary_oarchive archive(sink, mpipool::detail::archive_flags);
  archive << value;
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

template <class T>
std::string our_bytes(const T& value) {
  const auto out = mpipool::to_bytes(value);
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

}  // namespace

TEST_CASE("standard and user types round-trip", "[serialization]") {
  CHECK(round_trip(42) == 42);
  CHECK(round_trip(2.5) == 2.5);
  CHECK(round_trip(true));
  CHECK(round_trip(std::string("pools within pools")) == "pools within pools");
  CHECK(round_trip(std::vector<double>{1.0, 2.0, 3.5}) == std::vector<double>{1.0, 2.0, 3.5});
  CHECK(round_trip(std::map<std::string, int>{{"a", 1}, {"b", 2}}) == std::map<std::string, int>{{"a", 1}, {"b", 2}});
  CHECK(round_trip(std::pair<int, std::string>{3, "x"}) == std::pair<int, std::string>{3, "x"});
  const std::tuple<int, std::string, std::vector<int>> tuple{1, "two", {3}};
  CHECK(round_trip(tuple) == tuple);
  CHECK(round_trip(std::optional<int>(5)) == std::optional<int>(5));
  CHECK(round_trip(std::optional<int>()) == std::nullopt);
  const particle p{1.5, -2.0, "electron"};
  CHECK(round_trip(p) == p);
  const std::vector<particle> many{p, p};
  CHECK(round_trip(many) == many);
}

TEST_CASE("the raw fast path writes exactly what a Boost binary archive writes", "[serialization]") {
  CHECK(our_bytes(42) == boost_bytes(42));
  CHECK(our_bytes(-1.25) == boost_bytes(-1.25));
  CHECK(our_bytes(std::uint64_t{1} << 40) == boost_bytes(std::uint64_t{1} << 40));
  CHECK(our_bytes(std::string("abc")) == boost_bytes(std::string("abc")));
  CHECK(our_bytes(std::vector<double>{1.5, -2.0}) == boost_bytes(std::vector<double>{1.5, -2.0}));
  CHECK(our_bytes(std::vector<std::int8_t>{1, 2, 3}) == boost_bytes(std::vector<std::int8_t>{1, 2, 3}));
  CHECK(our_bytes(std::vector<int>{}) == boost_bytes(std::vector<int>{}));
  CHECK(our_bytes(std::vector<char>{'a', 'b'}) == boost_bytes(std::vector<char>{'a', 'b'}));
  CHECK(our_bytes(std::vector<wchar_t>{L'x'}) == boost_bytes(std::vector<wchar_t>{L'x'}));
  CHECK(our_bytes(std::vector<long long>{-3}) == boost_bytes(std::vector<long long>{-3}));
  // Boost writes class information first for these; they take the Boost path.
  CHECK(our_bytes(std::vector<long double>{1.5L}) == boost_bytes(std::vector<long double>{1.5L}));
  CHECK(round_trip(std::vector<long double>{1.5L, -2.0L}) == std::vector<long double>{1.5L, -2.0L});
  CHECK(round_trip(std::vector<char16_t>{u'a'}) == std::vector<char16_t>{u'a'});
}

TEST_CASE("vectors of numbers round-trip through the fast path, aligned or not", "[serialization]") {
  const std::vector<double> values{1.0, -2.5, 1e300};
  CHECK(round_trip(values) == values);
  CHECK(round_trip(std::vector<std::uint16_t>{}).empty());
  // The same bytes one byte further on: the elements are no longer aligned.
  const auto bytes = mpipool::to_bytes(values);
  std::vector<std::byte> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  CHECK(mpipool::from_bytes<std::vector<double>>(std::span(shifted).subspan(1)) == values);
  // Arguments mixing numbers and vectors decode as one tuple.
  mpipool::detail::byte_buffer mixed;
  mpipool::detail::encode_values(mixed, 7, values, 2.5f);
  const auto decoded = mpipool::detail::decode_values<std::tuple<int, std::vector<double>, float>>(mixed.view());
  CHECK(decoded == std::tuple{7, values, 2.5f});
}

TEST_CASE("a truncated payload is a serialization_error", "[serialization]") {
  const auto bytes = mpipool::to_bytes(std::vector<int>{1, 2, 3, 4});
  const auto cut = bytes.view().first(bytes.size() - 1);
  CHECK_THROWS_AS(mpipool::from_bytes<std::vector<int>>(cut), mpipool::serialization_error);
  CHECK_THROWS_AS(mpipool::from_bytes<int>(bytes.view().first(2)), mpipool::serialization_error);
  CHECK_THROWS_AS(mpipool::from_bytes<particle>({}), mpipool::serialization_error);
}

TEST_CASE("an oversized length field is rejected before anything is allocated", "[serialization]") {
  // A vector whose element count claims 2^40 elements, followed by nothing.
  mpipool::detail::byte_buffer forged;
  forged.put<std::uint64_t>(std::uint64_t{1} << 40);
  CHECK_THROWS_WITH(mpipool::from_bytes<std::vector<int>>(forged.view()),
                    Catch::Contains("oversized") && Catch::Contains("collection size"));
  CHECK_THROWS_WITH(mpipool::from_bytes<std::string>(forged.view()),
                    Catch::Contains("oversized") && Catch::Contains("string length"));
}

TEST_CASE("bytes left over mean the two sides disagree on the type", "[serialization]") {
  const auto bytes = mpipool::to_bytes(std::int64_t{7});
  CHECK_THROWS_WITH(mpipool::from_bytes<std::int32_t>(bytes.view()), Catch::Contains("left over"));
}
