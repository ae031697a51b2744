#pragma once
// Large arrays that a message is decoded into are fresh memory: the kernel maps it
// page by page on first touch, and on the 2-core VM the faults of a 64 MiB vector
// cost as much as copying it (a 64 MiB echo ran at 3.2 GB/s, 5.5 to 6.5 with huge
// pages, raw MPI 4.9 to 6.1). Advised before it is written, the memory is mapped in
// 2 MiB pages wherever the system allows it (transparent huge pages in `madvise`
// mode, Debian's default). `MPIPOOL_HUGE_PAGES=0` turns the advice off.

#include <cstddef>

namespace mpipool::detail {

/// Arrays from this size on are advised.
inline constexpr std::size_t huge_page_advice_bytes = std::size_t{4} << 20;

/// Asks for huge pages for the whole 2 MiB extents within [data, data + bytes), memory
/// the caller owns and has not written yet. Does nothing where the system says no.
void advise_huge_pages(void* data, std::size_t bytes) noexcept;

}  // namespace mpipool::detail
