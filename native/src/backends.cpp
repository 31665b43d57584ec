// SPDX-License-Identifier: Apache-2.0
#include "nativepool/backends.hpp"

#include <mutex>
#include <new>
#include <vector>

#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/pinned_backend.hpp"
#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/numa_backend.hpp"
#include "id_registry.hpp"

namespace nativepool {

namespace {

// GPU backends check their device up front, so a bad ordinal fails when the
// pool is built rather than at its first growth.
Status make_device_backend(std::shared_ptr<gpu::DeviceRuntime> runtime, int device,
                           std::shared_ptr<Backend>* out) noexcept {
  if (runtime->device_count() == 0) {
    return fail(Status::kNoDevice, "no CUDA device: %s", gpu::cuda_unavailable_reason());
  }
  if (const Status status = runtime->check_device(device); status != Status::kOk) return status;
  *out = std::make_shared<gpu::DeviceBackend>(std::move(runtime), device);
  return Status::kOk;
}

IdRegistry<NumaSpec>& numa_specs() noexcept {
  static IdRegistry<NumaSpec> instance;
  return instance;
}

struct Listened {
  BackendType type = BackendType::kMalloc;
  int parameter = 0;
  std::shared_ptr<RegionListener> listener;
};

IdRegistry<Listened>& listeners() noexcept {
  static IdRegistry<Listened> instance;
  return instance;
}

Status make_listened_backend(int id, std::shared_ptr<Backend>* out) noexcept try {
  Listened entry;
  if (const Status status = listeners().get(id, "listened backend", &entry); status != Status::kOk) return status;
  std::shared_ptr<Backend> inner;
  if (const Status status = make_backend(entry.type, entry.parameter, &inner); status != Status::kOk) return status;
  *out = std::make_shared<ListenedBackend>(std::move(inner), std::move(entry.listener));
  return Status::kOk;
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for a listened backend");
}

Status make_numa_backend(int id, std::shared_ptr<Backend>* out) noexcept {
  NumaSpec spec;
  if (const Status status = numa_specs().get(id, "NUMA backend", &spec); status != Status::kOk) return status;
  std::shared_ptr<NumaBackend> backend;
  if (const Status status = NumaBackend::create(std::move(spec), &backend); status != Status::kOk) return status;
  *out = std::move(backend);
  return Status::kOk;
}

}  // namespace

Status register_numa_spec(NumaSpec spec, int* id) noexcept {
  if (const Status status = numa_check_spec(&spec); status != Status::kOk) return status;
  IdRegistry<NumaSpec>& registry = numa_specs();
  const std::lock_guard lock(registry.mutex);
  for (std::size_t i = 0; i < registry.entries.size(); ++i) {
    if (registry.entries[i] == spec) {
      *id = static_cast<int>(i);
      return Status::kOk;
    }
  }
  return registry.append(std::move(spec), "NUMA backend", id);
}

Status register_listener(BackendType type, int parameter, std::shared_ptr<RegionListener> listener,
                         int* id) noexcept try {
  if (listener == nullptr) return fail(Status::kInvalidArgument, "a region listener must not be null");
  if (type == BackendType::kNodeLocal || type == BackendType::kListened) {
    return fail(Status::kInvalidArgument, "a region listener wraps one plain backend");
  }
  std::shared_ptr<Backend> probe;  // checked now, so a bad backend fails here rather than at the first pool
  if (const Status status = make_backend(type, parameter, &probe); status != Status::kOk) return status;
  IdRegistry<Listened>& registry = listeners();
  const std::lock_guard lock(registry.mutex);
  return registry.append({type, parameter, std::move(listener)}, "listened backend", id);
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for a listened backend");
}

Status make_pool_over(BackendType type, int parameter, const NodePoolMaker& make,
                      std::unique_ptr<Pool>* out) noexcept {
  if (type == BackendType::kNodeLocal) {
    std::unique_ptr<NodeLocalPool> group;
    if (const Status status = NodeLocalPool::create(make, &group); status != Status::kOk) return status;
    *out = std::move(group);
    return Status::kOk;
  }
  std::shared_ptr<Backend> backend;
  if (const Status status = make_backend(type, parameter, &backend); status != Status::kOk) return status;
  return make(std::move(backend), out);
}

Status make_backend(BackendType type, int parameter, std::shared_ptr<Backend>* out) noexcept {
  std::shared_ptr<Backend> backend;
  std::shared_ptr<gpu::DeviceRuntime> runtime;
  switch (type) {
    case BackendType::kMalloc:
      backend = std::make_shared<MallocBackend>();
      break;
    case BackendType::kMmap:
      backend = std::make_shared<MmapBackend>(false);
      break;
    case BackendType::kMmapHugePages:
      backend = std::make_shared<MmapBackend>(true);
      break;
    case BackendType::kCudaDevice:
      if (const Status status = gpu::cuda_runtime(&runtime); status != Status::kOk) return status;
      return make_device_backend(std::move(runtime), parameter, out);
    case BackendType::kCudaPinned:
      if (const Status status = gpu::cuda_runtime(&runtime); status != Status::kOk) return status;
      if (runtime->device_count() == 0) {
        return fail(Status::kNoDevice, "no CUDA device: %s", gpu::cuda_unavailable_reason());
      }
      backend = std::make_shared<gpu::PinnedBackend>(std::move(runtime));
      break;
    case BackendType::kSimulatedDevice:
      return make_device_backend(gpu::default_simulated_runtime(), parameter, out);
    case BackendType::kNuma:
      return make_numa_backend(parameter, out);
    case BackendType::kPlugin: {
      std::shared_ptr<PluginBackend> plugin;
      if (const Status status = registered_plugin(parameter, &plugin); status != Status::kOk) return status;
      backend = std::move(plugin);
      break;
    }
    case BackendType::kListened:
      return make_listened_backend(parameter, out);
    case BackendType::kNodeLocal:
      return fail(Status::kInvalidArgument, "node-local memory is a group of pools, not one backend");
    default:
      return fail(Status::kInvalidArgument, "unknown backend type %d", static_cast<int>(type));
  }
  *out = std::move(backend);
  return Status::kOk;
}

}  // namespace nativepool
