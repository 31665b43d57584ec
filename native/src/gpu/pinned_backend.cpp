// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/pinned_backend.hpp"

#include <utility>

#include "nativepool/math.hpp"

namespace nativepool::gpu {

PinnedBackend::PinnedBackend(std::shared_ptr<DeviceRuntime> runtime)
    : runtime_(std::move(runtime)), name_(std::string(runtime_->name()) + "-pinned") {}

Status PinnedBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (size == 0 || !is_pow2(alignment) || alignment > kAlignment) {
    return fail(Status::kInvalidArgument,
                "%s backend: bad region request (size %zu, alignment %zu; pinned regions are %zu-byte aligned)",
                name_.c_str(), size, alignment, kAlignment);
  }
  return runtime_->pinned_malloc(size, out);
}

void PinnedBackend::deallocate(void* region, std::size_t, std::size_t) noexcept { runtime_->pinned_free(region); }

}  // namespace nativepool::gpu
