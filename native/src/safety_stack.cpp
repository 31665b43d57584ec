// SPDX-License-Identifier: Apache-2.0
#include "nativepool/safety_stack.hpp"

#include <new>

#include "nativepool/guarded_backend.hpp"
#include "nativepool/memory_hooks.hpp"

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
  if (level != SafetyLevel::kOff && !backend.host_accessible()) {
    return fail(Status::kFeatureUnavailable,
                "safety level %s needs memory the CPU can read; %.*s memory gets device-side guard checks "
                "together with the GPU backends (use SafetyLevel OFF for now)",
                safety_level_name(level), static_cast<int>(backend.name().size()), backend.name().data());
  }
  out->level_ = level;
  out->hooks_ = backend.host_accessible() && hooks::active();
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
