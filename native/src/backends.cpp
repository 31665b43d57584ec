// SPDX-License-Identifier: Apache-2.0
#include "nativepool/backends.hpp"

#include <new>

#include "nativepool/host_backend.hpp"

namespace nativepool {

Status make_backend(BackendType type, int /*parameter*/, std::shared_ptr<Backend>* out) noexcept {
  std::shared_ptr<Backend> backend;
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
    default:
      return fail(Status::kInvalidArgument, "unknown backend type %d", static_cast<int>(type));
  }
  *out = std::move(backend);
  return Status::kOk;
}

}  // namespace nativepool
