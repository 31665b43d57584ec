// SPDX-License-Identifier: Apache-2.0
#include "jni_regions.hpp"

#include <iterator>
#include <new>

#include "nativepool/status.hpp"

namespace nativepool::jni {

bool RegionSet::contains(const void* p, std::size_t n) const noexcept {
  const auto first = reinterpret_cast<std::uintptr_t>(p);
  const std::lock_guard lock(mutex_);
  auto after = regions_.upper_bound(first);
  if (after == regions_.begin()) return false;
  const auto& [start, size] = *std::prev(after);
  // first >= start here, so first - start cannot wrap.
  return first - start <= size && n <= size - (first - start);
}

bool RegionSet::add(const void* region, std::size_t size) noexcept {
  const std::lock_guard lock(mutex_);
  try {
    regions_.emplace(reinterpret_cast<std::uintptr_t>(region), size);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

void RegionSet::remove(const void* region) noexcept {
  const std::lock_guard lock(mutex_);
  regions_.erase(reinterpret_cast<std::uintptr_t>(region));
}

Status RecordingBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  void* region = nullptr;
  if (const Status status = inner().allocate(size, alignment, &region); status != Status::kOk) return status;
  if (host_accessible() && !regions_->add(region, size)) {
    inner().deallocate(region, size, alignment);
    return fail(Status::kInternal, "out of host memory for the region list");
  }
  *out = region;
  return Status::kOk;
}

void RecordingBackend::deallocate(void* region, std::size_t size, std::size_t alignment) noexcept {
  if (host_accessible()) regions_->remove(region);
  inner().deallocate(region, size, alignment);
}

}  // namespace nativepool::jni
