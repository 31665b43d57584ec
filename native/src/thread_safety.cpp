// SPDX-License-Identifier: Apache-2.0
#include "nativepool/thread_safety.hpp"

namespace nativepool {

const char* thread_safety_name(ThreadSafety mode) noexcept {
  switch (mode) {
    case ThreadSafety::kNone: return "NONE";
    case ThreadSafety::kMutex: return "MUTEX";
    case ThreadSafety::kLockFree: return "LOCK_FREE";
  }
  return "UNKNOWN";
}

}  // namespace nativepool
