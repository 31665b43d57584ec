// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/device_backend.hpp"

#include <utility>

#include "nativepool/math.hpp"

namespace nativepool::gpu {

DeviceBackend::DeviceBackend(std::shared_ptr<DeviceRuntime> runtime, int device)
    : runtime_(std::move(runtime)), device_(device),
      name_(std::string(runtime_->name()) + ":" + std::to_string(device)) {}

Status DeviceBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (size == 0 || !is_pow2(alignment) || alignment > kAlignment) {
    return fail(Status::kInvalidArgument,
                "%s backend: bad region request (size %zu, alignment %zu; device regions are %zu-byte aligned)",
                name_.c_str(), size, alignment, kAlignment);
  }
  return runtime_->device_malloc(device_, size, out);
}

void DeviceBackend::deallocate(void* region, std::size_t, std::size_t) noexcept {
  runtime_->device_free(device_, region);
}

}  // namespace nativepool::gpu
