// SPDX-License-Identifier: Apache-2.0
#include "nativepool/backends.hpp"

#include <new>

#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/pinned_backend.hpp"
#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/host_backend.hpp"

namespace nativepool {

namespace {

// GPU backends check their device up front, so a bad ordinal fails when the
// pool is built rather than at its first growth.
Status make_device_backend(std::shared_ptr<gpu::DeviceRuntime> runtime, int device,
                           std::shared_ptr<Backend>* out) noexcept {
  if (runtime->device_count() == 0) {
    return fail(Status::kNoDevice, "no CUDA device: %s", gpu::cuda_unavailable_reason());
  }
  if (const Status status = runtime->check_device(device); status != Status::kOk) return status;
  *out = std::make_shared<gpu::DeviceBackend>(std::move(runtime), device);
  return Status::kOk;
}

}  // namespace

Status make_backend(BackendType type, int parameter, std::shared_ptr<Backend>* out) noexcept {
  std::shared_ptr<Backend> backend;
  std::shared_ptr<gpu::DeviceRuntime> runtime;
  switch (type) {
    case BackendType::kMalloc:
      backend = std::make_shared<MallocBackend>();
      break;
    case BackendType::kMmap:
      backend = std::make_shared<MmapBackend>(false);
      break;
    case BackendType::kMmapHugePages:
      backend = std::make_shared<MmapBackend>(true);
      break;
    case BackendType::kCudaDevice:
      if (const Status status = gpu::cuda_runtime(&runtime); status != Status::kOk) return status;
      return make_device_backend(std::move(runtime), parameter, out);
    case BackendType::kCudaPinned:
      if (const Status status = gpu::cuda_runtime(&runtime); status != Status::kOk) return status;
      if (runtime->device_count() == 0) {
        return fail(Status::kNoDevice, "no CUDA device: %s", gpu::cuda_unavailable_reason());
      }
      backend = std::make_shared<gpu::PinnedBackend>(std::move(runtime));
      break;
    case BackendType::kSimulatedDevice:
      return make_device_backend(gpu::default_simulated_runtime(), parameter, out);
    default:
      return fail(Status::kInvalidArgument, "unknown backend type %d", static_cast<int>(type));
  }
  *out = std::move(backend);
  return Status::kOk;
}

}  // namespace nativepool
