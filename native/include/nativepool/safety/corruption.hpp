// SPDX-License-Identifier: Apache-2.0
/// @file corruption.hpp
/// @brief What a canary check found: the structured companion of
/// Status::kMemoryCorrupted.
///
/// The status and its text detail travel the usual way (status.hpp); the
/// fields below travel beside them in a thread-local record so that the JNI
/// layer can build an exception that names the block, its size, the guard
/// hit and the allocation site as values rather than as prose.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nativepool/status.hpp"

namespace nativepool {

/// Which protected region of a block was found overwritten. Values are
/// mirrored by org.nativepool.MemoryCorruptionException.Guard: append only.
enum class Guard : int {
  kFront = 0,  ///< the margin before the block: an underflow
  kBack = 1,   ///< the margin after the block: an overflow
  kFreed = 2,  ///< the poison of freed memory: a write after free
};

[[nodiscard]] const char* guard_name(Guard guard) noexcept;

/// One detected corruption.
struct CorruptionReport {
  std::uintptr_t block = 0;  ///< address the user was given (kFreed: the address the freed block had)
  std::size_t size = 0;      ///< bytes the user asked for (kFreed: the freed block's usable size)
  Guard guard = Guard::kFront;
  /// First damaged byte relative to `block`: negative in the front guard.
  std::ptrdiff_t offset = 0;
  const char* site = nullptr;  ///< allocation site when tracked, else null
};

/// Records @p report for this thread, sets the detail message and returns
/// Status::kMemoryCorrupted.
Status fail_corruption(const CorruptionReport& report) noexcept;

/// Adds the allocation site to the report being returned on this thread
/// (layers that track sites call it on the way out) and rewrites the detail.
void attach_allocation_site(const char* site) noexcept;

/// The report of the most recent kMemoryCorrupted on this thread.
[[nodiscard]] const CorruptionReport& last_corruption() noexcept;

}  // namespace nativepool
