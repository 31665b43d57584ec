// SPDX-License-Identifier: Apache-2.0
/// @file device_backend.hpp
/// @brief Device memory of one GPU as a pool backend.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "nativepool/backend.hpp"
#include "nativepool/gpu/device_runtime.hpp"

namespace nativepool::gpu {

/// Regions from device_malloc() on one device. Pools over it keep their
/// metadata on the host and never touch the memory, so FixedPool and
/// VariablePool manage it unchanged; canary layers reach it through
/// memory_access(), with the runtime's synchronous copies.
class DeviceBackend final : public Backend {
 public:
  /// The alignment device_malloc() guarantees. Larger alignments (pools ask
  /// for page-aligned arenas) cost an over-allocation only when the runtime's
  /// pointer happens not to be aligned already.
  static constexpr std::size_t kAlignment = 256;

  DeviceBackend(std::shared_ptr<DeviceRuntime> runtime, int device);

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  [[nodiscard]] MemoryKind kind() const noexcept override { return MemoryKind::kDevice; }
  [[nodiscard]] int device() const noexcept override { return device_; }
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] std::shared_ptr<MemoryAccess> memory_access() const noexcept override { return access_; }

 private:
  std::shared_ptr<DeviceRuntime> runtime_;
  int device_;
  std::string name_;  // "cuda:0", "simulated:1"
  std::shared_ptr<MemoryAccess> access_;
  std::mutex mutex_;
  std::unordered_map<void*, void*> over_allocated_;  // aligned region -> what device_malloc returned
};

}  // namespace nativepool::gpu
