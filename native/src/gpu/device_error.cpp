// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/device_error.hpp"

namespace nativepool::gpu {
namespace {
// Per thread for the same reason as the detail message: the JNI layer reads
// it on the thread that saw the failure.
thread_local DeviceError t_error;
}  // namespace

Status device_fail(DeviceError error, const char* message) noexcept {
  t_error = error;
  return fail(Status::kDeviceError, "%s failed: %s (%d): %s", error.call, error.name, error.code, message);
}

DeviceError last_device_error() noexcept { return t_error; }

}  // namespace nativepool::gpu
