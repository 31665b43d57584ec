// SPDX-License-Identifier: Apache-2.0
/// @file device_error.hpp
/// @brief The structured side of Status::kDeviceError: which runtime call
/// failed with which CUDA error, so Java can throw a CudaException that
/// carries the name, the code and the call rather than only a message.
#pragma once

#include "nativepool/status.hpp"

namespace nativepool::gpu {

/// The most recent device error on this thread.
struct DeviceError {
  int code = 0;          ///< the cudaError_t value
  const char* name = "";  ///< e.g. "cudaErrorMemoryAllocation" (static storage)
  const char* call = "";  ///< e.g. "cudaMalloc" (static storage)
};

/// Records @p error for this thread and a detail message
/// "<call> failed: <name> (<code>): <message>"; returns kDeviceError.
/// @p name and @p call must have static storage duration.
Status device_fail(DeviceError error, const char* message) noexcept;

/// The error recorded by the last device_fail() on this thread.
[[nodiscard]] DeviceError last_device_error() noexcept;

}  // namespace nativepool::gpu
