// SPDX-License-Identifier: Apache-2.0
/// @file copy.hpp
/// @brief Bounds-checked copies between host, pinned and device buffers.
#pragma once

#include <cstddef>

#include "nativepool/backend.hpp"
#include "nativepool/gpu/device_runtime.hpp"

namespace nativepool::gpu {

/// A buffer as the copy functions see it: where it is and how big it is.
struct MemoryRange {
  void* base = nullptr;
  std::size_t size = 0;
  MemoryKind kind = MemoryKind::kHost;
  int device = -1;  ///< for kDevice: the device it lives on
};

/// Enqueues a copy of @p bytes from @p src + @p src_offset to @p dst +
/// @p dst_offset on @p stream and returns. The direction follows from the
/// memory kinds: host to device, device to host, device to device on one
/// device, or a peer copy between two devices. Fails with kInvalidArgument,
/// before anything is enqueued, when a range overruns its buffer, when both
/// sides are host memory, or when the stream belongs to a device the copy
/// does not involve.
[[nodiscard]] Status copy_async(DeviceRuntime& runtime, const MemoryRange& dst, std::size_t dst_offset,
                                const MemoryRange& src, std::size_t src_offset, std::size_t bytes,
                                Stream stream) noexcept;

/// copy_async(), then waits for @p stream to finish it (and all work before it).
[[nodiscard]] Status copy(DeviceRuntime& runtime, const MemoryRange& dst, std::size_t dst_offset,
                          const MemoryRange& src, std::size_t src_offset, std::size_t bytes, Stream stream) noexcept;

}  // namespace nativepool::gpu
