// SPDX-License-Identifier: Apache-2.0
/// @file features.hpp
/// @brief Which optional parts were compiled in, and which are usable now.
#pragma once

namespace nativepool {

/// A snapshot of optional capabilities. "compiled" means the code is in this
/// build; "available" means it works on this machine right now.
struct Features {
  const char* version = "";
  bool cuda_compiled = false;
  int cuda_devices = 0;  ///< devices the driver reports (0 without driver)
  bool numa_compiled = false;  ///< always true: libnuma is opened at run time (numa.hpp)
  bool numa_available = false;
  int numa_nodes = 0;
  const char* numa_unavailable_reason = "";  ///< why not, when !numa_available
  /// Persistent heaps in files (persistent_heap.hpp): always in the build on
  /// Linux; they need no library (no libpmem).
  bool persistent_compiled = false;
  /// The cache-flush instruction persistent heaps use on DAX ("clwb", ...),
  /// "" where the CPU has none and every file uses msync.
  const char* cache_flush = "";
  bool valgrind_hooks = false;       ///< memcheck client requests compiled in
  bool running_on_valgrind = false;  ///< this process runs under Valgrind now
  bool huge_pages = false;           ///< transparent huge pages can be requested
  bool sanitizers = false;           ///< built with AddressSanitizer
};

/// Probes the machine. Cheap, but not free: call once, not per allocation.
[[nodiscard]] Features probe_features() noexcept;

}  // namespace nativepool
