// SPDX-License-Identifier: Apache-2.0
// The block size a VariablePool with slabs (arenas of 1 MiB or more, the
// default slab_limit) hands out for a request, as docs/design.md tables
// it: a test's own reference, not the pool's counted_size().
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>

namespace nativepool::testing_support {

inline std::size_t expected_block_size(std::size_t size, std::size_t granularity = 16) {
  // Up to 1 KiB and above 4 KiB the granularity; between, eight classes to
  // a doubling.
  const std::size_t step = size <= 1024 || size > 4096 ? granularity
                                                        : std::max(granularity, std::bit_floor(size - 1) / 8);
  return (size + step - 1) / step * step;
}

}  // namespace nativepool::testing_support
