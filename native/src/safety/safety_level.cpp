// SPDX-License-Identifier: Apache-2.0
#include "nativepool/safety/safety_level.hpp"

namespace nativepool {

const char* safety_level_name(SafetyLevel level) noexcept {
  switch (level) {
    case SafetyLevel::kOff: return "OFF";
    case SafetyLevel::kCanaries: return "CANARIES";
    case SafetyLevel::kFull: return "FULL";
  }
  return "UNKNOWN";
}

}  // namespace nativepool
