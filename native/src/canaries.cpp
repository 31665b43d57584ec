// SPDX-License-Identifier: Apache-2.0
#include "nativepool/canaries.hpp"

namespace nativepool::detail {

std::size_t first_mismatch(const unsigned char* p, std::size_t n, unsigned char byte) noexcept {
  // Whole words first: freed blocks can be large, and this runs on every
  // allocation of a canary pool.
  const std::uint64_t pattern = 0x0101010101010101ULL * byte;
  std::size_t i = 0;
  for (; i + sizeof pattern <= n; i += sizeof pattern) {
    std::uint64_t word;
    std::memcpy(&word, p + i, sizeof word);
    if (word != pattern) break;
  }
  for (; i < n; ++i) {
    if (p[i] != byte) return i;
  }
  return n;
}

}  // namespace nativepool::detail
