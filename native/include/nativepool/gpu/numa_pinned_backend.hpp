// SPDX-License-Identifier: Apache-2.0
/// @file numa_pinned_backend.hpp
/// @brief Page-locked host memory on chosen NUMA nodes, for GPU transfers.
#pragma once

#include <memory>
#include <string>

#include "nativepool/backend.hpp"
#include "nativepool/gpu/device_runtime.hpp"
#include "nativepool/numa_backend.hpp"

namespace nativepool::gpu {

/// Pinned regions whose pages lie where a NUMA policy puts them: each region
/// comes from a NumaBackend (mapped, bound with mbind, untouched) and is then
/// registered with the runtime (cudaHostRegister), which faults every page in
/// under that policy. Staging buffers on the node a GPU is attached to cross
/// no socket link on their way to the device. cudaHostAlloc, which
/// PinnedBackend uses, places pages on whichever node the calling thread ran.
class NumaPinnedBackend final : public Backend {
 public:
  /// kFeatureUnavailable without NUMA, kInvalidArgument for a bad spec
  /// (numa_check_spec), kNoDevice without a device.
  [[nodiscard]] static Status create(std::shared_ptr<DeviceRuntime> runtime, NumaSpec spec,
                                     std::shared_ptr<NumaPinnedBackend>* out) noexcept;

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  [[nodiscard]] MemoryKind kind() const noexcept override { return MemoryKind::kPinnedHost; }
  /// The node of a single-node policy, else -1 (as NumaBackend).
  [[nodiscard]] int device() const noexcept override { return numa_->device(); }
  /// e.g. "cuda-pinned@numa:bind:0".
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  /// Where the pages of every region lie now (NumaBackend::placement).
  [[nodiscard]] Status placement(NumaPlacement* out) const noexcept { return numa_->placement(out); }

 private:
  NumaPinnedBackend(std::shared_ptr<DeviceRuntime> runtime, std::shared_ptr<NumaBackend> numa, std::string name) noexcept
      : runtime_(std::move(runtime)), numa_(std::move(numa)), name_(std::move(name)) {}

  std::shared_ptr<DeviceRuntime> runtime_;
  std::shared_ptr<NumaBackend> numa_;
  std::string name_;
};

}  // namespace nativepool::gpu
