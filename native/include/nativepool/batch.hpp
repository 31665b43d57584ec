// SPDX-License-Identifier: Apache-2.0
/// @file batch.hpp
/// @brief Batches for any pool algorithm or adaptor: its own batch entry
/// when it has one (FixedPool moves a whole chain at once), else one call
/// per block with the same all-or-nothing and stop-at-first-bad contracts.
///
/// The safety adaptors have no batch entry on purpose: each block must pass
/// through their checks, so a batch over them is the loop below.
#pragma once

#include <cstddef>

#include "nativepool/status.hpp"

namespace nativepool::batch {

/// All or nothing: @p count blocks into @p out, or none kept and the status
/// of the refused one. On failure @p out holds only nulls where blocks were
/// handed out and given back (the algorithm's own batch writes nothing).
template <class A>
[[nodiscard]] Status allocate(A& pool, std::size_t size, std::size_t alignment, void** out,
                              std::size_t count) noexcept {
  if constexpr (requires { pool.allocate_batch(size, alignment, out, count); }) {
    return pool.allocate_batch(size, alignment, out, count);
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      const Status status = pool.allocate(size, alignment, &out[i]);
      if (status != Status::kOk) [[unlikely]] {
        // A successful free records no error, so the refusal's detail stays.
        for (std::size_t j = 0; j < i; ++j) {
          (void)pool.deallocate(out[j], nullptr);
          out[j] = nullptr;
        }
        return status;
      }
    }
    return Status::kOk;
  }
}

/// Frees in order and stops at the first refused pointer, with its status;
/// @p freed receives how many were freed and @p freed_bytes their counted
/// size.
template <class A>
[[nodiscard]] Status deallocate(A& pool, void* const* ptrs, std::size_t count, std::size_t* freed,
                                std::size_t* freed_bytes) noexcept {
  if constexpr (requires { pool.deallocate_batch(ptrs, count, freed, freed_bytes); }) {
    return pool.deallocate_batch(ptrs, count, freed, freed_bytes);
  } else {
    *freed_bytes = 0;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t bytes = 0;
      const Status status = pool.deallocate(ptrs[i], &bytes);
      if (status != Status::kOk) [[unlikely]] {
        *freed = i;
        return status;
      }
      *freed_bytes += bytes;
    }
    *freed = count;
    return Status::kOk;
  }
}

}  // namespace nativepool::batch
