// SPDX-License-Identifier: Apache-2.0
/// @file backends.hpp
/// @brief Builds a backend from the (type, parameter) pair the Java API sends.
#pragma once

#include <memory>

#include "nativepool/backend.hpp"
#include "nativepool/node_local_pool.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/plugin_backend.hpp"
#include "nativepool/region_listener.hpp"

namespace nativepool {

/// Backend types known to the runtime. Values are mirrored by
/// org.nativepool.Backend: append only.
enum class BackendType : int {
  kMalloc = 0,
  kMmap = 1,
  kMmapHugePages = 2,
  kCudaDevice = 3,       ///< parameter: the CUDA device ordinal
  kCudaPinned = 4,       ///< page-locked host memory from the CUDA runtime
  kSimulatedDevice = 5,  ///< parameter: a device of the default simulated runtime
  kNuma = 6,             ///< parameter: an id from register_numa_spec()
  kNodeLocal = 7,        ///< not one backend: a NodeLocalPool, one pool per node (make_pool_over)
  kPlugin = 8,           ///< parameter: an id from register_plugin()
  kListened = 9,         ///< parameter: an id from register_listener()
};

/// Creates a backend. @p parameter is type-specific (a device or NUMA node
/// for the types that need one) and ignored by the host backends. Returns
/// kFeatureUnavailable when the type needs a component that is absent.
[[nodiscard]] Status make_backend(BackendType type, int parameter, std::shared_ptr<Backend>* out) noexcept;

/// Builds a pool with @p make over the backend of (@p type, @p parameter);
/// for kNodeLocal, a NodeLocalPool over this machine's nodes whose per-node
/// pools @p make builds, each over its node's bound backend.
[[nodiscard]] Status make_pool_over(BackendType type, int parameter, const NodePoolMaker& make,
                                    std::unique_ptr<Pool>* out) noexcept;

/// Checks @p spec (numa_check_spec) and stores the id that stands for it as
/// kNuma's parameter in @p id. Equal specs get equal ids, so the Java side can
/// compare backends by (type, parameter); ids live as long as the process
/// (one small entry per distinct spec).
[[nodiscard]] Status register_numa_spec(NumaSpec spec, int* id) noexcept;

/// Loads the plugin at @p path with @p options (PluginBackend::load) and
/// stores the id that stands for the instance as kPlugin's parameter in
/// @p id. Equal (canonical path, options) get the same id and share one
/// instance, which lives as long as the process, like NUMA specs.
[[nodiscard]] Status register_plugin(const std::string& path, const PluginOptions& options, int* id) noexcept;

/// The instance of a register_plugin() id; kInvalidArgument for an unknown id.
[[nodiscard]] Status registered_plugin(int id, std::shared_ptr<PluginBackend>* out) noexcept;

/// Stores the id that stands for (@p type, @p parameter) with @p listener
/// told of every region, as kListened's parameter, in @p id: each pool over
/// it gets a ListenedBackend over a backend of (@p type, @p parameter).
/// Checked now (the backend is built once); ids live as long as the process.
[[nodiscard]] Status register_listener(BackendType type, int parameter, std::shared_ptr<RegionListener> listener,
                                       int* id) noexcept;

}  // namespace nativepool
