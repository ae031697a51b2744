// Huge-page advice for large fresh arrays (huge_pages.hpp): it lands on exactly the
// whole 2 MiB extents of the range, and a large vector of numbers is decoded intact,
// into advised memory.

#include <sys/mman.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "mpipool/detail/huge_pages.hpp"
#include "mpipool/serialization.hpp"

namespace {

constexpr std::uintptr_t two_mib = std::uintptr_t{2} << 20;
// "skipped:" makes ctest report the test as skipped (tests/CMakeLists.txt).
constexpr const char* no_advice_to_see =
    "skipped: no transparent huge pages here, or MPIPOOL_HUGE_PAGES=0: the advice has nothing to show";

/// The VmFlags of the mapping that holds `address`, from /proc/self/smaps.
std::string flags_of_mapping_at(std::uintptr_t address) {
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-' && line.find(':') > line.find(' ')) {
      inside = address >= begin && address < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return {};
}

bool has_flag(const std::string& vm_flags, const std::string& flag) {
  std::istringstream words(vm_flags);
  for (std::string word; words >> word;) {
    if (word == flag) return true;
  }
  return false;
}

bool advised_at(std::uintptr_t address) { return has_flag(flags_of_mapping_at(address), "hg"); }

/// Whether madvise(MADV_HUGEPAGE) shows in smaps here, and the advice is on: on a
/// kernel without transparent huge pages, or with MPIPOOL_HUGE_PAGES=0, there is
/// nothing to see.
bool advice_visible() {
  if (const char* setting = std::getenv("MPIPOOL_HUGE_PAGES"); setting != nullptr && std::string(setting) == "0") {
    return false;
  }
  void* control = ::mmap(nullptr, 2 * two_mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (control == MAP_FAILED) return false;
  const bool visible = ::madvise(control, 2 * two_mib, MADV_HUGEPAGE) == 0 &&
                       advised_at(reinterpret_cast<std::uintptr_t>(control));
  ::munmap(control, 2 * two_mib);
  return visible;
}

}  // namespace

TEST_CASE("huge-page advice covers the whole 2 MiB extents inside the range, and nothing outside",
          "[huge_pages]") {
  if (!advice_visible()) {
    WARN(no_advice_to_see);
    return;
  }
  // A mapping with room around 4 whole extents.
  const std::size_t room = 12 * two_mib;
  void* mapping = ::mmap(nullptr, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mapping != MAP_FAILED);
  const auto aligned = (reinterpret_cast<std::uintptr_t>(mapping) + two_mib - 1) & ~(two_mib - 1);
  // Starting 1 byte past a boundary: the first whole extent starts 2 MiB later.
  const auto start = aligned + two_mib + 1;
  mpipool::detail::advise_huge_pages(reinterpret_cast<void*>(start), 4 * two_mib);
  CHECK_FALSE(advised_at(start));  // the partial extent it starts in
  CHECK(advised_at(aligned + 2 * two_mib));
  CHECK(advised_at(aligned + 4 * two_mib));
  CHECK_FALSE(advised_at(aligned + 5 * two_mib));  // the partial one it ends in
  ::munmap(mapping, room);
}

namespace {

/// A vector of doubles just over the advice's threshold, and its decodes from aligned
/// and from unaligned bytes.
struct large_decodes {
  std::vector<double> values;
  std::vector<double> aligned;
  std::vector<double> unaligned;
};

large_decodes decode_large_vector() {
  large_decodes result;
  result.values.resize(mpipool::detail::huge_page_advice_bytes / sizeof(double) + 3);
  std::iota(result.values.begin(), result.values.end(), 0.5);
  const auto bytes = mpipool::to_bytes(result.values);
  result.aligned = mpipool::from_bytes<std::vector<double>>(bytes.view());
  std::vector<std::byte> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  result.unaligned = mpipool::from_bytes<std::vector<double>>(std::span(shifted).subspan(1));
  return result;
}

}  // namespace

TEST_CASE("a large vector of numbers is decoded intact, aligned or not", "[huge_pages][serialization]") {
  const auto decodes = decode_large_vector();
  CHECK(decodes.aligned == decodes.values);
  CHECK(decodes.unaligned == decodes.values);
}

TEST_CASE("a large vector of numbers is decoded into advised memory", "[huge_pages][serialization]") {
  if (!advice_visible()) {
    WARN(no_advice_to_see);
    return;
  }
  const auto decodes = decode_large_vector();
  for (const auto* vector : {&decodes.aligned, &decodes.unaligned}) {
    const auto first_whole = (reinterpret_cast<std::uintptr_t>(vector->data()) + two_mib - 1) & ~(two_mib - 1);
    CHECK(advised_at(first_whole));
  }
}
