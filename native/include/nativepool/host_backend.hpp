// SPDX-License-Identifier: Apache-2.0
/// @file host_backend.hpp
/// @brief Pageable host-memory backends: the C heap and anonymous mappings.
#pragma once

#include "nativepool/backend.hpp"

namespace nativepool {

/// Regions from the C heap (aligned_alloc). Cheap to create, good for pools
/// that grow in small steps.
class MallocBackend final : public Backend {
 public:
  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  /// madvise(MADV_DONTNEED) on the whole pages inside the range: they lie
  /// inside a block of the C heap that the pool owns, and read as zero after.
  std::size_t release_pages(void* start, std::size_t size) noexcept override;
  [[nodiscard]] MemoryKind kind() const noexcept override { return MemoryKind::kHost; }
  [[nodiscard]] std::string_view name() const noexcept override { return "malloc"; }
};

/// Regions from anonymous private mmap(2). Memory goes straight back to the
/// kernel on deallocate, and with @p huge_pages the region is advised for
/// transparent huge pages (MADV_HUGEPAGE), which cuts TLB misses for large
/// pools. Regions are aligned to at least a page.
class MmapBackend final : public Backend {
 public:
  explicit MmapBackend(bool huge_pages = false) noexcept : huge_pages_(huge_pages) {}
  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  /// madvise(MADV_DONTNEED) on the whole pages inside the range.
  std::size_t release_pages(void* start, std::size_t size) noexcept override;
  [[nodiscard]] MemoryKind kind() const noexcept override { return MemoryKind::kHost; }
  [[nodiscard]] std::string_view name() const noexcept override {
    return huge_pages_ ? "mmap+thp" : "mmap";
  }
  [[nodiscard]] bool huge_pages() const noexcept { return huge_pages_; }

  /// True when the kernel offers transparent huge pages to madvise() callers.
  [[nodiscard]] static bool transparent_huge_pages_available() noexcept;

 private:
  bool huge_pages_;
};

}  // namespace nativepool
