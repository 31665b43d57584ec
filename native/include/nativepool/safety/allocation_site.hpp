// SPDX-License-Identifier: Apache-2.0
/// @file allocation_site.hpp
/// @brief The allocation-site tag a tracking pool records with each block.
///
/// Pool::allocate() has no site parameter: the fast path must not pay for a
/// debugging aid. The caller names its site in a thread-local instead, which
/// tracking pools read and every other pool ignores.
#pragma once

#include <string_view>

namespace nativepool {

/// The site set on this thread, or nullptr when none is set.
[[nodiscard]] const char* current_allocation_site() noexcept;

/// Sets this thread's site. @p site must outlive every pool that may record
/// it: a string literal, or a string returned by intern_allocation_site().
void set_allocation_site(const char* site) noexcept;

/// A copy of @p site that lives until the process ends; equal strings give
/// the same pointer. nullptr when the host is out of memory.
[[nodiscard]] const char* intern_allocation_site(std::string_view site) noexcept;

/// Names the allocation site for the allocations made in a scope:
/// `ScopedAllocationSite site("parser: token buffers");`
class ScopedAllocationSite {
 public:
  explicit ScopedAllocationSite(const char* site) noexcept : previous_(current_allocation_site()) {
    set_allocation_site(site);
  }
  ~ScopedAllocationSite() { set_allocation_site(previous_); }
  ScopedAllocationSite(const ScopedAllocationSite&) = delete;
  ScopedAllocationSite& operator=(const ScopedAllocationSite&) = delete;

 private:
  const char* previous_;
};

}  // namespace nativepool
