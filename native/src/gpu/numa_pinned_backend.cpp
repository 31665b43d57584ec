// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/numa_pinned_backend.hpp"

#include <new>
#include <utility>

#include "nativepool/gpu/runtimes.hpp"

namespace nativepool::gpu {

Status NumaPinnedBackend::create(std::shared_ptr<DeviceRuntime> runtime, NumaSpec spec,
                                 std::shared_ptr<NumaPinnedBackend>* out) noexcept {
  if (runtime->device_count() == 0) {
    return fail(Status::kNoDevice, "no CUDA device: %s", cuda_unavailable_reason());
  }
  std::shared_ptr<NumaBackend> numa;
  if (const Status status = NumaBackend::create(std::move(spec), &numa); status != Status::kOk) return status;
  try {
    std::string name(runtime->name());
    name.append("-pinned@").append(numa->name());
    *out = std::shared_ptr<NumaPinnedBackend>(new NumaPinnedBackend(std::move(runtime), std::move(numa), std::move(name)));
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a pinned NUMA backend");
  }
  return Status::kOk;
}

Status NumaPinnedBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  void* region = nullptr;
  if (const Status status = numa_->allocate(size, alignment, &region); status != Status::kOk) return status;
  // Registration faults the pages in: the policy mbind set decides where.
  if (const Status status = runtime_->host_register(region, size); status != Status::kOk) {
    numa_->deallocate(region, size, alignment);
    return status;
  }
  *out = region;
  return Status::kOk;
}

void NumaPinnedBackend::deallocate(void* region, std::size_t size, std::size_t alignment) noexcept {
  runtime_->host_unregister(region);
  numa_->deallocate(region, size, alignment);
}

}  // namespace nativepool::gpu
