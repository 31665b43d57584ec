// SPDX-License-Identifier: Apache-2.0
/// @file thread_safety.hpp
/// @brief Per-pool choice of synchronisation, fixed when the pool is built.
#pragma once

#include <mutex>

namespace nativepool {

/// Values are mirrored by org.nativepool.ThreadSafety: append only.
enum class ThreadSafety : int {
  kNone = 0,      ///< one thread at a time; no synchronisation cost at all
  kMutex = 1,     ///< a mutex around every operation
  kLockFree = 2,  ///< CAS-based operations (fixed-size pools only)
};

[[nodiscard]] const char* thread_safety_name(ThreadSafety mode) noexcept;

/// A lock that compiles away, for pools built with ThreadSafety::kNone.
struct NoLock {
  void lock() noexcept {}
  void unlock() noexcept {}
};

/// The lock type an algorithm uses in a given mode. Lock-free algorithms
/// still serialise their rare slow paths (growth, trim) with a real mutex.
template <ThreadSafety Mode>
using LockFor = std::conditional_t<Mode == ThreadSafety::kNone, NoLock, std::mutex>;

}  // namespace nativepool
