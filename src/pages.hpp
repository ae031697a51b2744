#pragma once
// The system's page size, and sizes rounded up to whole pages: shared mappings
// (rings, arenas) and address-space limits are counted in pages.

#include <unistd.h>

#include <cstddef>

namespace mpipool::detail {

inline std::size_t page_bytes() {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

inline std::size_t whole_pages(std::size_t bytes) {
  const std::size_t page = page_bytes();
  return (bytes + page - 1) / page * page;
}

}  // namespace mpipool::detail
