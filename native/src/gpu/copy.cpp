// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/copy.hpp"

namespace nativepool::gpu {
namespace {

Status check_bounds(const MemoryRange& range, std::size_t offset, std::size_t bytes, const char* side) noexcept {
  if (offset <= range.size && bytes <= range.size - offset) [[likely]] return Status::kOk;
  return fail(Status::kInvalidArgument, "copy of %zu bytes at offset %zu runs past the end of the %zu-byte %s", bytes,
              offset, range.size, side);
}

Status check_stream_on(DeviceRuntime& runtime, Stream stream, int device, const char* side) noexcept {
  const int stream_device = runtime.stream_device(stream);
  if (stream_device == device) [[likely]] return Status::kOk;
  return fail(Status::kInvalidArgument, "wrong device: the %s is on device %d but the stream belongs to device %d",
              side, device, stream_device);
}

void* at(const MemoryRange& range, std::size_t offset) noexcept { return static_cast<char*>(range.base) + offset; }

}  // namespace

Status copy_async(DeviceRuntime& runtime, const MemoryRange& dst, std::size_t dst_offset, const MemoryRange& src,
                  std::size_t src_offset, std::size_t bytes, Stream stream) noexcept {
  if (const Status status = check_bounds(dst, dst_offset, bytes, "destination"); status != Status::kOk) return status;
  if (const Status status = check_bounds(src, src_offset, bytes, "source"); status != Status::kOk) return status;
  const bool to_device = dst.kind == MemoryKind::kDevice;
  const bool from_device = src.kind == MemoryKind::kDevice;
  if (!to_device && !from_device) {
    return fail(Status::kInvalidArgument, "both sides of the copy are host memory: copy them on the CPU");
  }
  if (bytes == 0) return Status::kOk;
  if (to_device && from_device && dst.device != src.device) {
    const int stream_device = runtime.stream_device(stream);
    if (stream_device != dst.device && stream_device != src.device) {
      return fail(Status::kInvalidArgument,
                  "wrong device: a peer copy from device %d to device %d on a stream of device %d", src.device,
                  dst.device, stream_device);
    }
    return runtime.memcpy_peer_async(at(dst, dst_offset), dst.device, at(src, src_offset), src.device, bytes, stream);
  }
  const MemoryRange& device_side = to_device ? dst : src;
  if (const Status status = check_stream_on(runtime, stream, device_side.device, to_device ? "destination" : "source");
      status != Status::kOk) {
    return status;
  }
  const CopyKind kind = !from_device ? CopyKind::kHostToDevice
                        : !to_device ? CopyKind::kDeviceToHost
                                     : CopyKind::kDeviceToDevice;
  return runtime.memcpy_async(at(dst, dst_offset), at(src, src_offset), bytes, kind, stream);
}

Status copy(DeviceRuntime& runtime, const MemoryRange& dst, std::size_t dst_offset, const MemoryRange& src,
            std::size_t src_offset, std::size_t bytes, Stream stream) noexcept {
  if (const Status status = copy_async(runtime, dst, dst_offset, src, src_offset, bytes, stream);
      status != Status::kOk) {
    return status;
  }
  return runtime.stream_synchronize(stream);
}

}  // namespace nativepool::gpu
