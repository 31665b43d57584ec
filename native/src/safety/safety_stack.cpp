// SPDX-License-Identifier: Apache-2.0
#include "nativepool/safety/safety_stack.hpp"

#include <new>

#include "nativepool/safety/guarded_backend.hpp"
#include "nativepool/safety/memory_hooks.hpp"

namespace nativepool {
Status SafetyPlan::make(SafetyLevel level, const Backend& backend, SafetyPlan* out) noexcept {
  switch (level) {
    case SafetyLevel::kOff:
    case SafetyLevel::kCanaries:
    case SafetyLevel::kFull:
      break;
    default:
      return fail(Status::kInvalidArgument, "unknown safety level %d", static_cast<int>(level));
  }
  std::shared_ptr<MemoryAccess> device = backend.memory_access();
  if (level != SafetyLevel::kOff && !backend.host_accessible() && device == nullptr) {
    return fail(Status::kFeatureUnavailable,
                "safety level %s needs memory the CPU can read, or a backend that copies to and from it; "
                "%.*s offers neither (use SafetyLevel OFF)",
                safety_level_name(level), static_cast<int>(backend.name().size()), backend.name().data());
  }
  out->level_ = level;
  // The tools watch host memory only; device memory is checked by copies.
  out->hooks_ = backend.host_accessible() && hooks::active();
  out->access_ = BlockAccess(std::move(device));
  return Status::kOk;
}

std::shared_ptr<Backend> SafetyPlan::backend(std::shared_ptr<Backend> backend) const noexcept {
  if (level_ == SafetyLevel::kOff && !hooks_) return backend;
  try {
    return std::make_shared<GuardedBackend>(std::move(backend), level_ != SafetyLevel::kOff);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

std::size_t SafetyPlan::block_overhead(std::size_t alignment) const noexcept {
  if (level_ == SafetyLevel::kOff) return 0;
  return 2 * canary_margin(alignment);
}

}  // namespace nativepool
