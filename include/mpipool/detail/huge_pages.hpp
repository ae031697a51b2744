#pragma once
// Large arrays that a message is decoded into are fresh memory: the kernel maps it
// page by page on first touch, and on the 2-core VM the faults of a 64 MiB vector
// cost as much as copying it (a 64 MiB echo in direct mode: 2.7 GB/s, 4.2 with
// huge pages; raw MPI 4.4 to 6.1). Advised before it is written, the memory is
// mapped in 2 MiB pages wherever transparent huge pages are in `madvise` or
// `always` mode. `MPIPOOL_HUGE_PAGES=0` turns the advice off, e.g. on a node whose
// memory is so fragmented that the kernel's compaction for huge pages stalls.

#include <cstddef>

namespace mpipool::detail {

/// Arrays from this size on are advised. glibc maps allocations this large freshly
/// every time (its mmap threshold tops out at 32 MiB), so the advice never lands
/// on heap memory that other allocations reuse later.
inline constexpr std::size_t huge_page_advice_bytes = std::size_t{32} << 20;

/// Asks for huge pages for the whole 2 MiB extents within [data, data + bytes), memory
/// the caller owns and has not written yet. Does nothing where the system says no.
void advise_huge_pages(void* data, std::size_t bytes) noexcept;

}  // namespace mpipool::detail
