// SPDX-License-Identifier: Apache-2.0
#include "nativepool/features.hpp"

#include "nativepool/host_backend.hpp"
#include "nativepool/memory_hooks.hpp"

namespace nativepool {

Features probe_features() noexcept {
  Features features;
  features.version = NATIVEPOOL_VERSION;
  features.huge_pages = MmapBackend::transparent_huge_pages_available();
  features.valgrind_hooks = hooks::kValgrindHooks;
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  features.running_on_valgrind = RUNNING_ON_VALGRIND != 0;
#endif
  features.sanitizers = hooks::kAddressSanitizer;
  return features;
}

}  // namespace nativepool
