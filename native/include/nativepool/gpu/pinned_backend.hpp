// SPDX-License-Identifier: Apache-2.0
/// @file pinned_backend.hpp
/// @brief Page-locked host memory as a pool backend.
#pragma once

#include <memory>
#include <string>

#include "nativepool/backend.hpp"
#include "nativepool/gpu/device_runtime.hpp"

namespace nativepool::gpu {

/// Regions from pinned_malloc(): host memory the GPU reaches by DMA, so
/// copies from and to it run asynchronously at full bus speed. Pinning is
/// expensive (it maps and locks pages), which is what pooling it saves.
class PinnedBackend final : public Backend {
 public:
  /// The alignment every region has (a page); larger alignments are refused.
  static constexpr std::size_t kAlignment = 4096;

  explicit PinnedBackend(std::shared_ptr<DeviceRuntime> runtime);

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  [[nodiscard]] MemoryKind kind() const noexcept override { return MemoryKind::kPinnedHost; }
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }

 private:
  std::shared_ptr<DeviceRuntime> runtime_;
  std::string name_;  // "cuda-pinned", "simulated-pinned"
};

}  // namespace nativepool::gpu
