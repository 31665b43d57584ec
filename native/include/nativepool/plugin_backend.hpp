// SPDX-License-Identifier: Apache-2.0
/// @file plugin_backend.hpp
/// @brief A backend whose regions come from a plugin library (plugin.h).
///
/// The plugin supplies only regions; every pool type, safety level, stat and
/// trim() works over it unchanged, because the pools see an ordinary Backend.
/// The core distrusts what the plugin returns: a failed return, a null,
/// misaligned or overlapping region is refused with kPluginFault before any
/// pool sees it, so the pool stays as it was.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nativepool/backend.hpp"
#include "nativepool/plugin.h"

namespace nativepool {

/// Options handed to a plugin's init(), in order.
using PluginOptions = std::vector<std::pair<std::string, std::string>>;

/// One instance of a plugin: the library is dlopen'ed once per canonical
/// path (and never closed, so its code outlives every instance); each
/// instance has its own init() state, finalized with the backend.
class PluginBackend final : public Backend {
 public:
  /// Loads @p path (once per process) and creates an instance with
  /// @p options. kPluginNotFound when the file is missing or the loader
  /// refuses it, kPluginSymbolMissing without NATIVEPOOL_PLUGIN_ENTRY,
  /// kPluginAbiMismatch for another ABI major, a truncated table or a null
  /// required entry, kPluginOptionError with the plugin's own message when
  /// it refuses its options, kFeatureUnavailable when the plugin reports
  /// that what it needs is absent here.
  [[nodiscard]] static Status load(const std::string& path, const PluginOptions& options,
                                   std::shared_ptr<PluginBackend>* out) noexcept;

  PluginBackend(const PluginBackend&) = delete;
  PluginBackend& operator=(const PluginBackend&) = delete;
  ~PluginBackend() override;

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;
  [[nodiscard]] MemoryKind kind() const noexcept override { return kind_; }
  [[nodiscard]] int device() const noexcept override { return device_; }
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }

  /// The canonical path the library was loaded from.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// The ABI minor the plugin was built against.
  [[nodiscard]] std::uint32_t abi_minor() const noexcept { return table_.abi_minor; }
  /// What the plugin found on this machine (its describe() entry; "" without one).
  [[nodiscard]] const std::string& description() const noexcept { return description_; }

  /// Gives back the pages of [@p address, @p address + @p length), which
  /// must lie in one live region: kInvalidArgument otherwise,
  /// kFeatureUnavailable when the plugin has no purge entry.
  [[nodiscard]] Status purge(void* address, std::size_t length) noexcept;
  /// The device keys of the live region holding @p address: kInvalidArgument
  /// when none holds it, kFeatureUnavailable when the plugin registers none.
  [[nodiscard]] Status keys(const void* address, nativepool_plugin_keys* out) const noexcept;
  /// How another process maps the live region holding @p address; @p
  /// offset receives @p address's offset inside that region.
  [[nodiscard]] Status export_region(const void* address, nativepool_plugin_export* out,
                                     std::size_t* offset) const noexcept;

  /// Live regions the plugin handed out and the core accepted.
  [[nodiscard]] std::size_t live_regions() const noexcept;
  /// Returns the plugin got wrong after the fact (a failed free or
  /// deregistration, a region refused as misbehaving): the pool cannot
  /// report those to a caller, so they are counted here, and the most
  /// recent one is described by last_fault().
  [[nodiscard]] std::size_t faults() const noexcept { return faults_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::string last_fault() const;

 private:
  struct Region {
    std::size_t size;
    nativepool_plugin_keys keys;
    bool registered;
  };

  // Copies the plugin's name and description: may throw std::bad_alloc.
  PluginBackend(std::string path, const nativepool_plugin_ops& table, void* state);
  [[nodiscard]] Status accept(void* region, std::size_t size, std::size_t alignment) noexcept;
  [[nodiscard]] const Region* find(std::uintptr_t address, std::uintptr_t* base) const noexcept;
  [[gnu::format(printf, 2, 3)]] Status fault(const char* format, ...) noexcept;

  std::string path_;
  nativepool_plugin_ops table_;  // entries beyond the plugin's struct_size are null
  void* state_;
  std::string name_;
  std::string description_;
  MemoryKind kind_ = MemoryKind::kHost;
  int device_ = -1;
  mutable std::mutex mutex_;
  std::map<std::uintptr_t, Region> regions_;  // by base address, for the overlap check and lookups
  std::string last_fault_;
  std::atomic<std::size_t> faults_{0};
};

}  // namespace nativepool
