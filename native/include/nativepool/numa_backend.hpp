// SPDX-License-Identifier: Apache-2.0
/// @file numa_backend.hpp
/// @brief Host memory placed on NUMA nodes by a memory policy.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "nativepool/backend.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/numa.hpp"

namespace nativepool {

/// Anonymous mappings with a NUMA policy. Each region is mapped, then bound
/// with mbind before anything touches it, so its pages are placed by the
/// policy from the first fault; the policy belongs to the region, not to the
/// thread that happens to grow the pool. Pools carve blocks out of regions
/// as from any backend, so every pool type and safety level works unchanged.
class NumaBackend final : public Backend {
 public:
  /// Checks @p spec (numa_check_spec) and builds the backend: kFeatureUnavailable
  /// without NUMA, kInvalidArgument for a bad node or node set.
  [[nodiscard]] static Status create(NumaSpec spec, std::shared_ptr<NumaBackend>* out) noexcept;

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  /// As MmapBackend; the next touch places a page by the region's policy again.
  std::size_t release_pages(void* start, std::size_t size) noexcept override {
    return mapping_.release_pages(start, size);
  }
  [[nodiscard]] MemoryKind kind() const noexcept override { return MemoryKind::kNumaHost; }
  /// The node of a single-node policy; -1 for LOCAL and for several nodes.
  [[nodiscard]] int device() const noexcept override {
    return spec_.nodes.size() == 1 ? spec_.nodes.front() : -1;
  }
  /// e.g. "numa:bind:0", "numa:interleave:0,1", "numa:local".
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] const NumaSpec& spec() const noexcept { return spec_; }

  /// Where the pages of every region this backend holds lie now.
  [[nodiscard]] Status placement(NumaPlacement* out) const noexcept;

 private:
  NumaBackend(NumaSpec spec, std::string name) noexcept : spec_(std::move(spec)), name_(std::move(name)) {}

  NumaSpec spec_;
  std::string name_;
  MmapBackend mapping_;
  mutable std::mutex mutex_;  // guards regions_; taken once per region, never per block
  std::map<void*, std::size_t> regions_;
};

}  // namespace nativepool
