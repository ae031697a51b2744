// Huge-page advice for large fresh arrays (huge_pages.hpp): it lands on exactly the
// whole 2 MiB extents of the range, and large vectors decoded with it are intact.

#include <sys/mman.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "mpipool/detail/huge_pages.hpp"
#include "mpipool/serialization.hpp"

namespace {

constexpr std::uintptr_t two_mib = std::uintptr_t{2} << 20;

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

}  // namespace

TEST_CASE("huge-page advice covers the whole 2 MiB extents inside the range, and nothing outside",
          "[huge_pages]") {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled")) {
    WARN("this kernel has no transparent huge pages: the advice has nothing to do");
    return;
  }
  // 8 MiB on a 2 MiB boundary, from a mapping with room around it.
  const std::size_t room = 12 * two_mib;
  void* mapping = ::mmap(nullptr, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mapping != MAP_FAILED);
  const auto aligned = (reinterpret_cast<std::uintptr_t>(mapping) + two_mib - 1) & ~(two_mib - 1);
  // Starting 1 byte past a boundary: the first whole extent starts 2 MiB later.
  const auto start = aligned + two_mib + 1;
  mpipool::detail::advise_huge_pages(reinterpret_cast<void*>(start), 4 * two_mib);
  CHECK_FALSE(has_flag(flags_of_mapping_at(start), "hg"));  // the partial extent it starts in
  CHECK(has_flag(flags_of_mapping_at(aligned + 2 * two_mib), "hg"));
  CHECK(has_flag(flags_of_mapping_at(aligned + 4 * two_mib), "hg"));
  CHECK_FALSE(has_flag(flags_of_mapping_at(aligned + 5 * two_mib), "hg"));  // the partial one it ends in
  ::munmap(mapping, room);
}

TEST_CASE("large vectors decode intact where the advice applies, aligned or not", "[huge_pages][serialization]") {
  std::vector<double> values(mpipool::detail::huge_page_advice_bytes / sizeof(double) + 3);
  std::iota(values.begin(), values.end(), 0.5);
  const auto bytes = mpipool::to_bytes(values);
  CHECK(mpipool::from_bytes<std::vector<double>>(bytes.view()) == values);
  std::vector<std::byte> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  CHECK(mpipool::from_bytes<std::vector<double>>(std::span(shifted).subspan(1)) == values);
}
