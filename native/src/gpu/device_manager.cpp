// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/device_manager.hpp"

#include <algorithm>
#include <initializer_list>
#include <new>
#include <utility>

#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/pinned_backend.hpp"
#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool::gpu {
namespace {

// Device allocations are 256-byte aligned, as cudaMalloc's are.
constexpr std::size_t kGranularity = 256;

// Index of (device, peer) in a count x count table, computed in size_t:
// count * count overflows an int long before memory runs out.
std::size_t pair_index(int device, int peer, int count) noexcept {
  return static_cast<std::size_t>(device) * static_cast<std::size_t>(count) + static_cast<std::size_t>(peer);
}

Status make_stream_ordered_pool(std::shared_ptr<DeviceRuntime> runtime, int device, std::shared_ptr<Backend> backend,
                                std::size_t arena_size, std::size_t max_bytes, const DeviceManagerConfig& manager,
                                std::unique_ptr<StreamOrderedPool>* out) noexcept {
  if (manager.wrap_backend) {
    if (const Status status = manager.wrap_backend(device, &backend); status != Status::kOk) return status;
  }
  VariablePoolConfig config;
  config.arena_size = arena_size;
  config.granularity = kGranularity;
  config.max_bytes = max_bytes;
  std::unique_ptr<Pool> pool;
  // kNone: the stream-ordered adaptor serialises every call already.
  if (const Status status =
          make_variable_pool(config, ThreadSafety::kNone, std::move(backend), &pool, manager.safety);
      status != Status::kOk) {
    return status;
  }
  *out = std::make_unique<StreamOrderedPool>(std::move(runtime), device, std::move(pool), kGranularity);
  return Status::kOk;
}

void add(DeviceStats& sum, const DeviceStats& part) noexcept {
  sum.memory.free_bytes += part.memory.free_bytes;
  sum.memory.total_bytes += part.memory.total_bytes;
  StreamOrderedStats& s = sum.pool;
  const StreamOrderedStats& p = part.pool;
  s.live_blocks += p.live_blocks;
  s.bytes_in_use += p.bytes_in_use;
  s.cached_blocks += p.cached_blocks;
  s.cached_bytes += p.cached_bytes;
  s.reused_same_stream += p.reused_same_stream;
  s.reused_after_event += p.reused_after_event;
  s.reused_after_wait += p.reused_after_wait;
  s.upstream_allocations += p.upstream_allocations;
  accumulate(s.upstream, p.upstream);
}

}  // namespace

DeviceManager::DeviceManager(std::shared_ptr<DeviceRuntime> runtime) noexcept : runtime_(std::move(runtime)) {}

Status DeviceManager::create(std::shared_ptr<DeviceRuntime> runtime, const DeviceManagerConfig& config,
                             std::unique_ptr<DeviceManager>* out) noexcept {
  // Checked here, before the cap below could round a bad value into a good one.
  for (const auto& [what, bytes] : {std::pair{"arena size", config.arena_size},
                                    std::pair{"pinned arena size", config.pinned_arena_size}}) {
    if (bytes == 0 || bytes % kGranularity != 0) {
      return fail(Status::kInvalidArgument, "device manager: %s %zu is not a positive multiple of %zu", what, bytes,
                  kGranularity);
    }
  }
  const int count = runtime->device_count();
  if (count == 0) {
    return fail(Status::kNoDevice, "no CUDA device: %s",
                runtime->name() == "cuda" ? cuda_unavailable_reason() : "the runtime reports 0 devices");
  }
  try {
    std::unique_ptr<DeviceManager> manager(new DeviceManager(runtime));
    for (int device = 0; device < count; ++device) {
      MemoryInfo memory;
      if (const Status status = runtime->memory_info(device, &memory); status != Status::kOk) return status;
      // A growth step beyond a quarter of the device would make small
      // devices refuse even small blocks.
      const std::size_t quarter = memory.total_bytes / 4 / kGranularity * kGranularity;
      const std::size_t arena_size = std::max(kGranularity, std::min(config.arena_size, quarter));
      std::unique_ptr<StreamOrderedPool> pool;
      if (const Status status =
              make_stream_ordered_pool(runtime, device, std::make_shared<DeviceBackend>(runtime, device),
                                       arena_size, config.max_bytes_per_device, config, &pool);
          status != Status::kOk) {
        return status;
      }
      manager->pools_.push_back(std::move(pool));
    }
    if (const Status status = make_stream_ordered_pool(runtime, -1, std::make_shared<PinnedBackend>(runtime),
                                                       config.pinned_arena_size, config.pinned_max_bytes,
                                                       config, &manager->pinned_);
        status != Status::kOk) {
      return status;
    }
    // Peer access where the hardware has it; peer copies work without it
    // too (staged by the driver), only slower, so a refusal is not an error.
    manager->peer_.assign(static_cast<std::size_t>(count) * static_cast<std::size_t>(count), false);
    for (int device = 0; device < count; ++device) {
      for (int peer = 0; peer < count; ++peer) {
        bool possible = false;
        if (device != peer && runtime->can_access_peer(device, peer, &possible) == Status::kOk && possible) {
          manager->peer_[pair_index(device, peer, count)] =
              runtime->enable_peer_access(device, peer) == Status::kOk;
        }
      }
    }
    clear_error_detail();
    *out = std::move(manager);
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "device manager: out of host memory");
  }
}

DeviceManager::~DeviceManager() {
  // Streams first: their cached blocks go back to the pools while both exist.
  for (Stream stream : streams_) {
    for (auto& pool : pools_) pool->release_stream(stream);
    pinned_->release_stream(stream);
    runtime_->stream_destroy(stream);
  }
  for (Event event : events_) runtime_->event_destroy(event);
}

Status DeviceManager::device_pool(int device, StreamOrderedPool** out) const noexcept {
  if (const Status status = runtime_->check_device(device); status != Status::kOk) return status;
  *out = pools_[static_cast<std::size_t>(device)].get();
  return Status::kOk;
}

Status DeviceManager::select_device(SelectionPolicy policy, int requested, int* out) noexcept {
  switch (policy) {
    case SelectionPolicy::kExplicit:
      if (const Status status = runtime_->check_device(requested); status != Status::kOk) return status;
      *out = requested;
      return Status::kOk;
    case SelectionPolicy::kRoundRobin:
      *out = static_cast<int>(next_device_.fetch_add(1, std::memory_order_relaxed) %
                              static_cast<unsigned>(device_count()));
      return Status::kOk;
    case SelectionPolicy::kMostFreeMemory: {
      std::size_t best_free = 0;
      int best = -1;
      for (int device = 0; device < device_count(); ++device) {
        MemoryInfo memory;
        if (const Status status = runtime_->memory_info(device, &memory); status != Status::kOk) return status;
        // What the pool holds but does not use is free for this process too.
        const StreamOrderedStats pool = pools_[static_cast<std::size_t>(device)]->stats();
        const std::size_t free = memory.free_bytes + pool.upstream.fragmentation.free_bytes + pool.cached_bytes;
        if (best < 0 || free > best_free) {
          best = device;
          best_free = free;
        }
      }
      *out = best;
      return Status::kOk;
    }
  }
  return fail(Status::kInvalidArgument, "unknown device selection policy %d", static_cast<int>(policy));
}

bool DeviceManager::peer_access(int device, int peer) const noexcept {
  const int count = device_count();
  if (device < 0 || peer < 0 || device >= count || peer >= count) return false;
  return peer_[pair_index(device, peer, count)];
}

Status DeviceManager::create_stream(int device, Stream* out) noexcept {
  if (const Status status = runtime_->stream_create(device, out); status != Status::kOk) return status;
  try {
    std::lock_guard lock(handles_mutex_);
    streams_.insert(*out);
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    runtime_->stream_destroy(*out);
    return fail(Status::kInternal, "device manager: out of host memory");
  }
}

void DeviceManager::destroy_stream(Stream stream) noexcept {
  {
    std::lock_guard lock(handles_mutex_);
    streams_.erase(stream);
  }
  for (auto& pool : pools_) pool->release_stream(stream);
  pinned_->release_stream(stream);
  runtime_->stream_destroy(stream);
}

Status DeviceManager::create_event(int device, Event* out) noexcept {
  if (const Status status = runtime_->event_create(device, out); status != Status::kOk) return status;
  try {
    std::lock_guard lock(handles_mutex_);
    events_.insert(*out);
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    runtime_->event_destroy(*out);
    return fail(Status::kInternal, "device manager: out of host memory");
  }
}

void DeviceManager::destroy_event(Event event) noexcept {
  {
    std::lock_guard lock(handles_mutex_);
    events_.erase(event);
  }
  runtime_->event_destroy(event);
}

Status DeviceManager::device_stats(int device, DeviceStats* out) const noexcept {
  StreamOrderedPool* pool = nullptr;
  if (const Status status = device_pool(device, &pool); status != Status::kOk) return status;
  DeviceStats stats;
  stats.device = device;
  if (const Status status = runtime_->memory_info(device, &stats.memory); status != Status::kOk) return status;
  stats.pool = pool->stats();
  *out = stats;
  return Status::kOk;
}

Status DeviceManager::aggregate_stats(DeviceStats* out) const noexcept {
  DeviceStats sum;
  for (int device = 0; device < device_count(); ++device) {
    DeviceStats part;
    if (const Status status = device_stats(device, &part); status != Status::kOk) return status;
    add(sum, part);
  }
  *out = sum;
  return Status::kOk;
}

}  // namespace nativepool::gpu
