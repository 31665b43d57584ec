// SPDX-License-Identifier: Apache-2.0
/// @file device_manager.hpp
/// @brief All GPUs of a runtime, each with its own pools, and the streams
/// and events created on them.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "nativepool/backend.hpp"
#include "nativepool/gpu/device_runtime.hpp"
#include "nativepool/gpu/stream_ordered_pool.hpp"
#include "nativepool/safety/safety_level.hpp"

namespace nativepool::gpu {

/// How a DeviceManager builds its pools.
struct DeviceManagerConfig {
  /// Growth step of each device pool (a multiple of 256); capped at a
  /// quarter of the device's memory.
  std::size_t arena_size = std::size_t{64} << 20;
  /// Cap on what each device pool reserves; 0: as much as the device has.
  std::size_t max_bytes_per_device = 0;
  /// Growth step of the pinned host pool (a multiple of 256, the granularity
  /// of every manager pool).
  std::size_t pinned_arena_size = std::size_t{16} << 20;
  /// Cap on the pinned host pool; 0: unbounded.
  std::size_t pinned_max_bytes = 0;
  /// Safety level of every pool (device pools check their canaries with
  /// device copies: a debugging aid, see docs/debugging.md).
  SafetyLevel safety = default_safety_level();
  /// Called once per pool as the manager builds it, with the pool's device
  /// (-1: the pinned pool) and its backend, before the pool maps anything;
  /// it may replace the backend with a wrapper, e.g. a ListenedBackend that
  /// reports each region the pool maps or unmaps (the JNI glue's Flight
  /// Recorder events). What it fails with fails create(). Empty: none.
  std::function<Status(int device, std::shared_ptr<Backend>* backend)> wrap_backend;
};

/// Values are mirrored by org.nativepool.gpu.SelectionPolicy: append only.
enum class SelectionPolicy : int {
  kExplicit = 0,        ///< the device the caller names
  kRoundRobin = 1,      ///< each call the next device
  kMostFreeMemory = 2,  ///< the device with most free memory, counting its pool's free space
};

/// Figures of one device; aggregate_stats() sums them with device == -1.
struct DeviceStats {
  int device = -1;
  MemoryInfo memory;  ///< as the driver reports it
  StreamOrderedStats pool;
};

/// Enumerates the devices of a runtime and owns, per device, one
/// stream-ordered pool of device memory (a VariablePool, 256-byte
/// granularity), plus one pinned host pool shared by all devices. Enables
/// peer access between every pair of devices that supports it. Owns the
/// streams and events it creates and destroys those still open when it is
/// destroyed. Thread-safe.
class DeviceManager {
 public:
  /// kNoDevice when the runtime has no device.
  [[nodiscard]] static Status create(std::shared_ptr<DeviceRuntime> runtime, const DeviceManagerConfig& config,
                                     std::unique_ptr<DeviceManager>* out) noexcept;
  ~DeviceManager();
  DeviceManager(const DeviceManager&) = delete;
  DeviceManager& operator=(const DeviceManager&) = delete;

  [[nodiscard]] int device_count() const noexcept { return static_cast<int>(pools_.size()); }
  [[nodiscard]] DeviceRuntime& runtime() const noexcept { return *runtime_; }

  /// The pool of @p device, or kInvalidArgument for a device that does not exist.
  [[nodiscard]] Status device_pool(int device, StreamOrderedPool** out) const noexcept;
  [[nodiscard]] StreamOrderedPool& pinned_pool() const noexcept { return *pinned_; }

  /// Picks a device; @p requested is used by kExplicit only.
  [[nodiscard]] Status select_device(SelectionPolicy policy, int requested, int* out) noexcept;
  /// Whether peer access from @p device to @p peer was enabled.
  [[nodiscard]] bool peer_access(int device, int peer) const noexcept;

  [[nodiscard]] Status create_stream(int device, Stream* out) noexcept;
  /// Returns the stream's cached blocks to the pools, waits for the stream
  /// and destroys it.
  void destroy_stream(Stream stream) noexcept;
  [[nodiscard]] Status create_event(int device, Event* out) noexcept;
  void destroy_event(Event event) noexcept;

  [[nodiscard]] Status device_stats(int device, DeviceStats* out) const noexcept;
  [[nodiscard]] Status aggregate_stats(DeviceStats* out) const noexcept;

 private:
  DeviceManager(std::shared_ptr<DeviceRuntime> runtime) noexcept;

  std::shared_ptr<DeviceRuntime> runtime_;
  std::vector<std::unique_ptr<StreamOrderedPool>> pools_;
  std::unique_ptr<StreamOrderedPool> pinned_;
  std::vector<bool> peer_;  // peer_[device * count + peer]
  std::atomic<unsigned> next_device_{0};
  std::mutex handles_mutex_;
  std::unordered_set<Stream> streams_;
  std::unordered_set<Event> events_;
};

}  // namespace nativepool::gpu
