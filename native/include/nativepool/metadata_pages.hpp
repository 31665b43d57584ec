// SPDX-License-Identifier: Apache-2.0
/// @file metadata_pages.hpp
/// @brief Host metadata on pages of its own: zero-filled anonymous mappings
/// that take memory only where they are written.
///
/// The pools' larger metadata tables (TLSF nodes, the address map, the slab
/// directories) are mapped rather than taken from malloc, for two reasons:
/// the kernel hands out zeroed pages, so a table that starts empty costs
/// resident memory only for the pages its entries reach, where a zeroing
/// new touches it all; and an unmapped table goes back to the system at
/// once, where malloc keeps freed blocks below its mmap threshold resident.
#pragma once

#include <sys/mman.h>

#include <cstddef>

namespace nativepool::detail {

/// @p bytes of zeroed, page-aligned memory, or nullptr when the system has none.
[[nodiscard]] inline void* map_metadata(std::size_t bytes) noexcept {
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return mapped == MAP_FAILED ? nullptr : mapped;
}

/// Gives back what map_metadata() returned, with the same @p bytes.
inline void unmap_metadata(void* mapped, std::size_t bytes) noexcept { ::munmap(mapped, bytes); }

}  // namespace nativepool::detail
