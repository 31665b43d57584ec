// SPDX-License-Identifier: Apache-2.0
#include "nativepool/status.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

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
    case Status::kNotAPool: return "NOT_A_POOL";
    case Status::kTruncated: return "TRUNCATED";
    case Status::kVersionMismatch: return "VERSION_MISMATCH";
    case Status::kChecksumMismatch: return "CHECKSUM_MISMATCH";
    case Status::kAlreadyOpen: return "ALREADY_OPEN";
    case Status::kIoError: return "IO_ERROR";
    case Status::kPluginNotFound: return "PLUGIN_NOT_FOUND";
    case Status::kPluginSymbolMissing: return "PLUGIN_SYMBOL_MISSING";
    case Status::kPluginAbiMismatch: return "PLUGIN_ABI_MISMATCH";
    case Status::kPluginOptionError: return "PLUGIN_OPTION_ERROR";
    case Status::kPluginFault: return "PLUGIN_FAULT";
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

Status fail_with_detail(Status status, const char* format, ...) noexcept {
  char below[sizeof t_detail];
  std::snprintf(below, sizeof below, "%s", t_detail);
  va_list args;
  va_start(args, format);
  const int prefix = std::vsnprintf(t_detail, sizeof t_detail, format, args);
  va_end(args);
  // Copied by hand: snprintf of "%s" into the rest would warn of the
  // truncation that is exactly what is wanted here.
  const std::size_t used = prefix < 0 ? 0 : static_cast<std::size_t>(prefix);
  if (used + 3 <= sizeof t_detail) {
    t_detail[used] = ':';
    t_detail[used + 1] = ' ';
    const std::size_t room = sizeof t_detail - used - 3;
    const std::size_t length = std::min(std::strlen(below), room);
    std::memcpy(t_detail + used + 2, below, length);
    t_detail[used + 2 + length] = '\0';
  }
  return status;
}

const char* error_detail() noexcept { return t_detail; }

void clear_error_detail() noexcept { t_detail[0] = '\0'; }

}  // namespace nativepool
