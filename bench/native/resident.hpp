// SPDX-License-Identifier: Apache-2.0
/// @file resident.hpp
/// @brief The process's resident anonymous memory, for the benchmarks that
/// measure footprint by it (metadata_bench, trace_replay).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <fstream>

namespace bench {

/// Bytes of anonymous memory of this process now resident, from
/// /proc/self/statm: the resident set less its file-backed and shared
/// pages. An allocator's headers, metadata and touched blocks are all
/// anonymous; the library code that a first call pages in is not memory
/// the allocator keeps (it was 64 KiB of libc's text at a pool's first
/// block, counted as metadata while the whole resident set was read).
inline std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t total = 0;
  std::size_t resident = 0;
  std::size_t shared = 0;
  statm >> total >> resident >> shared;
  return (resident - shared) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace bench
