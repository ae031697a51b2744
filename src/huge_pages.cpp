// Huge-page advice for fresh large arrays (see huge_pages.hpp).

#include "mpipool/detail/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace mpipool::detail {

namespace {

constexpr std::uintptr_t huge_page_bytes = std::uintptr_t{2} << 20;

bool huge_pages_enabled() {
  static const bool enabled = [] {
    const char* setting = std::getenv("MPIPOOL_HUGE_PAGES");
    return setting == nullptr || std::strcmp(setting, "0") != 0;
  }();
  return enabled;
}

}  // namespace

void advise_huge_pages(void* data, std::size_t bytes) noexcept {
  if (!huge_pages_enabled()) return;
  // Only whole huge pages: the memory around the array may belong to others.
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const auto first = (start + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
  const auto last = (start + bytes) & ~(huge_page_bytes - 1);
  if (last <= first) return;
  // Refused (a kernel without transparent huge pages) or without effect (set to
  // `never`), the memory keeps ordinary pages: nothing to report.
  static_cast<void>(::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE));
}

}  // namespace mpipool::detail
