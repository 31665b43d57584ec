// SPDX-License-Identifier: Apache-2.0
#include "nativepool/features.hpp"

#include <memory>

#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/host_backend.hpp"

namespace nativepool {

Features probe_features() noexcept {
  Features features;
  features.version = NATIVEPOOL_VERSION;
  features.cuda_compiled = gpu::cuda_compiled();
  std::shared_ptr<gpu::DeviceRuntime> cuda;
  if (gpu::cuda_runtime(&cuda) == Status::kOk) features.cuda_devices = cuda->device_count();
  clear_error_detail();
  features.huge_pages = MmapBackend::transparent_huge_pages_available();
#if defined(__SANITIZE_ADDRESS__)
  features.sanitizers = true;
#endif
  return features;
}

}  // namespace nativepool
