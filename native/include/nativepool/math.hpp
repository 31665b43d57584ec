// SPDX-License-Identifier: Apache-2.0
/// @file math.hpp
/// @brief Small integer helpers shared by the pool algorithms.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace nativepool {

[[nodiscard]] constexpr bool is_pow2(std::size_t value) noexcept { return std::has_single_bit(value); }

/// Rounds @p value up to a multiple of @p align (a power of two). The caller
/// guarantees no overflow; use round_up_checked() for untrusted sizes.
[[nodiscard]] constexpr std::size_t round_up(std::size_t value, std::size_t align) noexcept {
  return (value + align - 1) & ~(align - 1);
}

/// round_up() that reports overflow instead of wrapping.
[[nodiscard]] constexpr bool round_up_checked(std::size_t value, std::size_t align,
                                              std::size_t* out) noexcept {
  if (value > SIZE_MAX - (align - 1)) return false;
  *out = round_up(value, align);
  return true;
}

[[nodiscard]] constexpr unsigned floor_log2(std::size_t value) noexcept {
  return static_cast<unsigned>(std::bit_width(value)) - 1U;
}

}  // namespace nativepool
