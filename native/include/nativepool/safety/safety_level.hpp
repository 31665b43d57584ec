// SPDX-License-Identifier: Apache-2.0
/// @file safety_level.hpp
/// @brief How much checking a pool does on top of its algorithm, chosen per
/// pool when it is built.
#pragma once

namespace nativepool {

/// Debugging aids layered over a pool algorithm by the factory. Invalid,
/// double, foreign and interior frees are detected at every level; the
/// levels add detection of what user code does to the memory itself.
/// Values are mirrored by org.nativepool.SafetyLevel: append only.
enum class SafetyLevel : int {
  /// The algorithm alone: the fast path is untouched.
  kOff = 0,
  /// Guard bytes before and after every block, checked on free and on
  /// verify(); freed memory is poisoned and the poison checked on reuse.
  kCanaries = 1,
  /// Canaries, plus a record of every live block (size, time, allocation
  /// site) for leak reports and for naming the allocation site of a
  /// corrupted block.
  kFull = 2,
};

[[nodiscard]] const char* safety_level_name(SafetyLevel level) noexcept;

/// The level pools get when the caller does not choose one: kFull in a build
/// configured with NATIVEPOOL_DEBUG_SAFETY, kOff otherwise.
[[nodiscard]] constexpr SafetyLevel default_safety_level() noexcept {
#if defined(NATIVEPOOL_DEBUG_SAFETY)
  return SafetyLevel::kFull;
#else
  return SafetyLevel::kOff;
#endif
}

}  // namespace nativepool
