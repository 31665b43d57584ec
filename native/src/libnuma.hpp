// SPDX-License-Identifier: Apache-2.0
// libnuma, opened at run time (internal to the core). The function types are
// declared here from libnuma's documented ABI, so the build needs no
// libnuma-dev and the library loads where libnuma is absent.
#pragma once

#include <cstddef>

namespace nativepool::libnuma {

/// libnuma's struct bitmask (numa.h): public, part of its ABI since 2.0.
struct Bitmask {
  unsigned long size;    // in bits
  unsigned long* maskp;  // size bits, in unsigned longs
};

/// The libnuma calls nativepool makes. Warnings: libnuma reports some errors
/// through numa_warn on stderr; callers only pass nodes and CPUs that exist,
/// which keeps every call here silent.
struct Library {
  int (*max_node)();
  long long (*node_size64)(int node, long long* free_bytes);
  int (*distance)(int from, int to);
  Bitmask* (*allocate_cpumask)();
  int (*node_to_cpus)(int node, Bitmask* cpus);
  void (*bitmask_free)(Bitmask* mask);
  long (*mbind)(void* start, unsigned long length, int mode, const unsigned long* nodemask,
                unsigned long maxnode, unsigned flags);
  long (*move_pages)(int pid, unsigned long count, void** pages, const int* nodes, int* status, int flags);
};

/// The loaded library, or nullptr when NUMA is unavailable; then reason()
/// says why. Probes and loads once, on first call; thread-safe.
[[nodiscard]] const Library* library() noexcept;
[[nodiscard]] const char* reason() noexcept;

// Linux memory-policy modes and flags (linux/mempolicy.h).
inline constexpr int kMpolPreferred = 1;
inline constexpr int kMpolBind = 2;
inline constexpr int kMpolInterleave = 3;
inline constexpr int kMpolLocal = 4;

}  // namespace nativepool::libnuma
