// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/device_backend.hpp"

#include <cstdint>
#include <new>
#include <utility>

#include "nativepool/math.hpp"

namespace nativepool::gpu {
namespace {

class DeviceMemoryAccess final : public MemoryAccess {
 public:
  DeviceMemoryAccess(std::shared_ptr<DeviceRuntime> runtime, int device) noexcept
      : runtime_(std::move(runtime)), device_(device) {}

  Status fill(void* dst, unsigned char value, std::size_t bytes) noexcept override {
    return runtime_->memset_sync(device_, dst, value, bytes);
  }

  Status read(void* dst, const void* src, std::size_t bytes) noexcept override {
    return runtime_->memcpy_sync(device_, dst, src, bytes, CopyKind::kDeviceToHost);
  }

 private:
  std::shared_ptr<DeviceRuntime> runtime_;
  int device_;
};

}  // namespace

DeviceBackend::DeviceBackend(std::shared_ptr<DeviceRuntime> runtime, int device)
    : runtime_(std::move(runtime)), device_(device),
      name_(std::string(runtime_->name()) + ":" + std::to_string(device)),
      access_(std::make_shared<DeviceMemoryAccess>(runtime_, device)) {}

Status DeviceBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  std::size_t padded = 0;
  if (size == 0 || !is_pow2(alignment) || !round_up_checked(size, kAlignment, &padded) ||
      padded + alignment < padded) {
    return fail(Status::kInvalidArgument, "%s backend: bad region request (size %zu, alignment %zu)", name_.c_str(),
                size, alignment);
  }
  void* region = nullptr;
  if (const Status status = runtime_->device_malloc(device_, size, &region); status != Status::kOk) return status;
  if (reinterpret_cast<std::uintptr_t>(region) % alignment == 0) {
    *out = region;
    return Status::kOk;
  }
  runtime_->device_free(device_, region);
  if (const Status status = runtime_->device_malloc(device_, padded + alignment - kAlignment, &region);
      status != Status::kOk) {
    return status;
  }
  void* aligned = reinterpret_cast<void*>(round_up(reinterpret_cast<std::uintptr_t>(region), alignment));
  try {
    std::lock_guard lock(mutex_);
    over_allocated_.emplace(aligned, region);
  } catch (const std::bad_alloc&) {
    runtime_->device_free(device_, region);
    return fail(Status::kInternal, "%s backend: out of host memory for bookkeeping", name_.c_str());
  }
  *out = aligned;
  return Status::kOk;
}

void DeviceBackend::deallocate(void* region, std::size_t, std::size_t) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (const auto found = over_allocated_.find(region); found != over_allocated_.end()) {
      region = found->second;
      over_allocated_.erase(found);
    }
  }
  runtime_->device_free(device_, region);
}

}  // namespace nativepool::gpu
