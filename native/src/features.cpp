// SPDX-License-Identifier: Apache-2.0
#include "nativepool/features.hpp"

#include "nativepool/host_backend.hpp"

namespace nativepool {

Features probe_features() noexcept {
  Features features;
  features.version = NATIVEPOOL_VERSION;
  features.huge_pages = MmapBackend::transparent_huge_pages_available();
#if defined(__SANITIZE_ADDRESS__)
  features.sanitizers = true;
#endif
  return features;
}

}  // namespace nativepool
