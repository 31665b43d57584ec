// SPDX-License-Identifier: Apache-2.0
#include "nativepool/numa_backend.hpp"

#include <cctype>
#include <new>

namespace nativepool {

Status NumaBackend::create(NumaSpec spec, std::shared_ptr<NumaBackend>* out) noexcept {
  if (const Status status = numa_check_spec(&spec); status != Status::kOk) return status;
  try {
    std::string name = "numa:";
    for (const char* c = numa_policy_name(spec.policy); *c != '\0'; ++c) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    }
    // append(), not operator+: GCC 12 at -O3 warns (-Wrestrict) on the temporary.
    for (std::size_t i = 0; i < spec.nodes.size(); ++i) name.append(i == 0 ? ":" : ",").append(std::to_string(spec.nodes[i]));
    *out = std::shared_ptr<NumaBackend>(new NumaBackend(std::move(spec), std::move(name)));
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a NUMA backend");
  }
  return Status::kOk;
}

Status NumaBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  void* region = nullptr;
  if (const Status status = mapping_.allocate(size, alignment, &region); status != Status::kOk) return status;
  // Nothing has touched the mapping yet, so every page is placed by the policy.
  Status status = numa_apply(spec_, region, size);
  if (status == Status::kOk) {
    try {
      const std::lock_guard lock(mutex_);
      regions_.emplace(region, size);
    } catch (const std::bad_alloc&) {
      status = fail(Status::kInternal, "out of host memory for NUMA region bookkeeping");
    }
  }
  if (status != Status::kOk) {
    mapping_.deallocate(region, size, alignment);
    return status;
  }
  *out = region;
  return Status::kOk;
}

void NumaBackend::deallocate(void* region, std::size_t size, std::size_t alignment) noexcept {
  {
    const std::lock_guard lock(mutex_);
    regions_.erase(region);
  }
  mapping_.deallocate(region, size, alignment);
}

Status NumaBackend::placement(NumaPlacement* out) const noexcept {
  NumaPlacement total;
  const std::lock_guard lock(mutex_);
  try {
    for (const auto& [region, size] : regions_) {
      NumaPlacement one;
      if (const Status status = numa_placement(region, size, &one); status != Status::kOk) return status;
      numa_merge(&total, one);
    }
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a NUMA placement");
  }
  *out = std::move(total);
  return Status::kOk;
}

}  // namespace nativepool
