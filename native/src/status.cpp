// SPDX-License-Identifier: Apache-2.0
#include "nativepool/status.hpp"

#include <cstdarg>
#include <cstdio>

namespace nativepool {
namespace {
// One message per thread: a failure is reported on the thread that caused it,
// and the JNI layer reads it before returning to Java.
thread_local char t_detail[512];
}  // namespace

const char* status_name(Status status) noexcept {
  switch (status) {
    case Status::kOk: return "OK";
    case Status::kInvalidArgument: return "INVALID_ARGUMENT";
    case Status::kOutOfPoolMemory: return "OUT_OF_POOL_MEMORY";
    case Status::kInvalidFree: return "INVALID_FREE";
    case Status::kDoubleFree: return "DOUBLE_FREE";
    case Status::kFeatureUnavailable: return "FEATURE_UNAVAILABLE";
    case Status::kCorrupted: return "CORRUPTED";
    case Status::kInternal: return "INTERNAL";
    case Status::kDeviceError: return "DEVICE_ERROR";
    case Status::kNoDevice: return "NO_DEVICE";
    case Status::kMemoryCorrupted: return "MEMORY_CORRUPTED";
  }
  return "UNKNOWN";
}

Status fail(Status status, const char* format, ...) noexcept {
  va_list args;
  va_start(args, format);
  std::vsnprintf(t_detail, sizeof t_detail, format, args);
  va_end(args);
  return status;
}

const char* error_detail() noexcept { return t_detail; }

void clear_error_detail() noexcept { t_detail[0] = '\0'; }

}  // namespace nativepool
