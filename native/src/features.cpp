// SPDX-License-Identifier: Apache-2.0
#include "nativepool/features.hpp"

#include <memory>

#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/safety/memory_hooks.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/persistent_media.hpp"

namespace nativepool {

Features probe_features() noexcept {
  Features features;
  features.version = NATIVEPOOL_VERSION;
  features.cuda_compiled = gpu::cuda_compiled();
  std::shared_ptr<gpu::DeviceRuntime> cuda;
  if (gpu::cuda_runtime(&cuda) == Status::kOk) features.cuda_devices = cuda->device_count();
  clear_error_detail();
  // libnuma is opened at run time, so NUMA support is always in the build.
  features.numa_compiled = true;
  features.numa_available = numa_available();
  features.numa_nodes = numa_node_count();
  features.numa_unavailable_reason = numa_unavailable_reason();
  features.persistent_compiled = true;
  features.cache_flush = cache_flush_instruction();
  features.huge_pages = MmapBackend::transparent_huge_pages_available();
  features.valgrind_hooks = hooks::kValgrindHooks;
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  features.running_on_valgrind = RUNNING_ON_VALGRIND != 0;
#endif
  features.sanitizers = hooks::kAddressSanitizer;
  return features;
}

}  // namespace nativepool
