// SPDX-License-Identifier: Apache-2.0
/// @file runtimes.hpp
/// @brief Where DeviceRuntime instances come from.
#pragma once

#include <cstddef>
#include <memory>

#include "nativepool/gpu/device_runtime.hpp"

namespace nativepool::gpu {

/// True when this build contains the CUDA runtime (NATIVEPOOL_HAVE_CUDA).
[[nodiscard]] bool cuda_compiled() noexcept;

/// The process-wide CUDA runtime. kFeatureUnavailable when CUDA is not
/// compiled in. Succeeds with device_count() == 0 when there is no driver or
/// no GPU; cuda_unavailable_reason() then says why.
[[nodiscard]] Status cuda_runtime(std::shared_ptr<DeviceRuntime>* out) noexcept;

/// Why the CUDA runtime reports no device ("" when it has some).
[[nodiscard]] const char* cuda_unavailable_reason() noexcept;

/// The most devices a simulated runtime has: more than any machine holds,
/// and few enough for the per-pair tables (peer access) of a DeviceManager.
inline constexpr int kMaxSimulatedDevices = 64;

/// A new simulated runtime: @p devices devices (1 to kMaxSimulatedDevices)
/// of @p capacity bytes each, backed by host memory. kInvalidArgument
/// outside those bounds.
[[nodiscard]] Status make_simulated_runtime(int devices, std::size_t capacity,
                                            std::shared_ptr<DeviceRuntime>* out) noexcept;

/// The process-wide simulated runtime behind BackendType::kSimulatedDevice:
/// 4 devices of 1 GiB (host memory is only taken as it is allocated).
[[nodiscard]] std::shared_ptr<DeviceRuntime> default_simulated_runtime() noexcept;

}  // namespace nativepool::gpu
