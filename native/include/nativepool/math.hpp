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

/// Division by a divisor fixed at construction, without a `div` instruction
/// (tens of cycles, and on the free path's critical path): a multiply by a
/// 64-bit reciprocal, exact for numerators and divisors below 2^32 (Lemire,
/// Kaser, Kurz: "Faster remainder by direct computation", 2019). Larger
/// operands fall back to plain division.
class ExactDivider {
 public:
  constexpr explicit ExactDivider(std::size_t divisor) noexcept
      : divisor_(divisor), reciprocal_(divisor < kLimit ? UINT64_MAX / divisor + 1 : 0) {}

  [[nodiscard]] constexpr std::size_t divide(std::size_t numerator) const noexcept {
    if (numerator < kLimit && reciprocal_ != 0) [[likely]] {
      return static_cast<std::size_t>((static_cast<Wide>(reciprocal_) * numerator) >> 64);
    }
    return numerator / divisor_;
  }

  [[nodiscard]] constexpr std::size_t divisor() const noexcept { return divisor_; }

 private:
  __extension__ using Wide = unsigned __int128;  // GCC and Clang, on every 64-bit target
  static constexpr std::size_t kLimit = std::size_t{1} << 32;
  std::size_t divisor_;
  std::uint64_t reciprocal_;
};

}  // namespace nativepool
