// SPDX-License-Identifier: Apache-2.0
/// @file resident.hpp
/// @brief The process's resident set, for the benchmarks that measure
/// footprint by it (metadata_bench, trace_replay).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <fstream>

namespace bench {

/// Bytes of this process now resident, from /proc/self/statm.
inline std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t total = 0;
  std::size_t resident = 0;
  statm >> total >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace bench
