// SPDX-License-Identifier: Apache-2.0
/// @file device_runtime.hpp
/// @brief The few GPU runtime operations nativepool needs, behind one
/// interface: the CUDA runtime in production, a simulation everywhere else.
///
/// Everything above this interface (backends, stream-ordered pools, copies,
/// the device manager) is written once and tested on machines without a GPU
/// against SimulatedRuntime. Implementations report failures as Status
/// (kDeviceError with a DeviceError record, kNoDevice, kInvalidArgument) and
/// never throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "nativepool/status.hpp"

namespace nativepool::gpu {

/// Opaque stream handle; only the runtime that created it can interpret it.
enum class Stream : std::uintptr_t {};
/// Opaque event handle; only the runtime that created it can interpret it.
enum class Event : std::uintptr_t {};

/// Direction of a copy; the runtime cannot always infer it from pointers.
enum class CopyKind : int {
  kHostToDevice = 0,
  kDeviceToHost = 1,
  kDeviceToDevice = 2,
};

/// Free and total memory of one device, as the driver reports it.
struct MemoryInfo {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
};

/// A GPU runtime. Thread-safe: every method may be called from any thread.
/// Calls that take a device (or a stream or event, which belong to one)
/// operate on that device regardless of the calling thread's current device.
class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;

  /// "cuda" or "simulated".
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// Devices usable by this process; 0 when there is no driver or no GPU.
  [[nodiscard]] virtual int device_count() const noexcept = 0;
  [[nodiscard]] virtual Status memory_info(int device, MemoryInfo* out) noexcept = 0;

  /// Device memory, aligned to at least 256 bytes.
  [[nodiscard]] virtual Status device_malloc(int device, std::size_t size, void** out) noexcept = 0;
  virtual void device_free(int device, void* ptr) noexcept = 0;
  /// Page-locked host memory, aligned to at least a page, usable by all devices.
  [[nodiscard]] virtual Status pinned_malloc(std::size_t size, void** out) noexcept = 0;
  virtual void pinned_free(void* ptr) noexcept = 0;
  /// Page-locks host memory the caller mapped itself (a region bound to a
  /// NUMA node, say) for all devices; its pages are faulted in now, so they
  /// land where the mapping's memory policy says. Undo with host_unregister()
  /// before unmapping.
  [[nodiscard]] virtual Status host_register(void* ptr, std::size_t size) noexcept = 0;
  virtual void host_unregister(void* ptr) noexcept = 0;

  [[nodiscard]] virtual Status stream_create(int device, Stream* out) noexcept = 0;
  /// Waits for the stream's work, then destroys it.
  virtual void stream_destroy(Stream stream) noexcept = 0;
  [[nodiscard]] virtual Status stream_synchronize(Stream stream) noexcept = 0;
  [[nodiscard]] virtual int stream_device(Stream stream) const noexcept = 0;

  [[nodiscard]] virtual Status event_create(int device, Event* out) noexcept = 0;
  virtual void event_destroy(Event event) noexcept = 0;
  /// Captures the work enqueued on @p stream so far; the event completes
  /// when that work has. Re-recording replaces the captured work.
  [[nodiscard]] virtual Status event_record(Event event, Stream stream) noexcept = 0;
  /// True when the captured work has completed (or nothing was recorded).
  [[nodiscard]] virtual Status event_query(Event event, bool* complete) noexcept = 0;
  [[nodiscard]] virtual Status event_synchronize(Event event) noexcept = 0;
  /// Work enqueued on @p stream after this call waits for @p event's
  /// captured work; the host does not wait.
  [[nodiscard]] virtual Status stream_wait_event(Stream stream, Event event) noexcept = 0;

  /// Enqueues a copy on @p stream and returns. Pageable host memory works
  /// (the runtime may then return only after staging it); pinned is faster.
  [[nodiscard]] virtual Status memcpy_async(void* dst, const void* src, std::size_t bytes, CopyKind kind,
                                            Stream stream) noexcept = 0;
  /// Enqueues a copy between the memory of two devices on @p stream.
  [[nodiscard]] virtual Status memcpy_peer_async(void* dst, int dst_device, const void* src, int src_device,
                                                 std::size_t bytes, Stream stream) noexcept = 0;

  /// Sets @p bytes of @p device's memory at @p dst to @p value and returns
  /// once the device has done it. Ordered after none of the caller's streams:
  /// the caller guarantees that no queued work uses the range. For the
  /// safety layers' guard bytes, not for bulk work.
  [[nodiscard]] virtual Status memset_sync(int device, void* dst, unsigned char value,
                                           std::size_t bytes) noexcept = 0;
  /// Copies between host memory and @p device's memory (or within it) and
  /// returns once the copy is complete; ordered as memset_sync().
  [[nodiscard]] virtual Status memcpy_sync(int device, void* dst, const void* src, std::size_t bytes,
                                           CopyKind kind) noexcept = 0;

  /// Enqueues @p fn(@p data) on @p stream: it runs on a runtime thread once
  /// the work before it has completed, and the stream waits for it. @p fn
  /// must not call the runtime. Lets callers (and tests) hold a stream at a
  /// known point.
  [[nodiscard]] virtual Status host_callback(Stream stream, void (*fn)(void*), void* data) noexcept = 0;

  /// Whether @p device can address @p peer's memory directly.
  [[nodiscard]] virtual Status can_access_peer(int device, int peer, bool* out) noexcept = 0;
  /// Lets @p device address @p peer's memory; enabling twice is not an error.
  [[nodiscard]] virtual Status enable_peer_access(int device, int peer) noexcept = 0;

  /// kInvalidArgument unless 0 <= @p device < device_count().
  [[nodiscard]] Status check_device(int device) const noexcept {
    if (device >= 0 && device < device_count()) [[likely]] return Status::kOk;
    return fail(Status::kInvalidArgument, "%.*s runtime: device %d does not exist (%d device(s))",
                static_cast<int>(name().size()), name().data(), device, device_count());
  }
};

}  // namespace nativepool::gpu
