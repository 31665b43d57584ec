// SPDX-License-Identifier: Apache-2.0
#include "nativepool/plugin_backend.hpp"

#include <dlfcn.h>

#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>

#include "nativepool/math.hpp"

namespace nativepool {
namespace {

// Libraries by canonical path: each is dlopen'ed once and never closed, so
// a plugin's code outlives every instance and every region it handed out.
struct Libraries {
  std::mutex mutex;
  std::map<std::string, const nativepool_plugin_ops*> tables;
};

Libraries& libraries() noexcept {
  static Libraries instance;
  return instance;
}

const char* text(const char* message) noexcept { return message != nullptr ? message : ""; }

// Checks the table a plugin's entry returned; the entries it names are the
// ones the core calls without a null check.
Status check_table(const std::string& path, const nativepool_plugin_ops* table) noexcept {
  if (table == nullptr) {
    return fail(Status::kPluginAbiMismatch, "plugin %s: %s returned no table", path.c_str(),
                NATIVEPOOL_PLUGIN_ENTRY_NAME);
  }
  if (table->struct_size < NATIVEPOOL_PLUGIN_REQUIRED_SIZE) {
    return fail(Status::kPluginAbiMismatch,
                "plugin %s: its table is truncated (%zu bytes, the required entries need %zu)", path.c_str(),
                table->struct_size, static_cast<std::size_t>(NATIVEPOOL_PLUGIN_REQUIRED_SIZE));
  }
  if (table->abi_major != NATIVEPOOL_PLUGIN_ABI_MAJOR) {
    return fail(Status::kPluginAbiMismatch, "plugin %s: built for plugin ABI %u.%u, this core speaks %u.x",
                path.c_str(), table->abi_major, table->abi_minor, NATIVEPOOL_PLUGIN_ABI_MAJOR);
  }
  const char* missing = table->init == nullptr         ? "init"
                        : table->finalize == nullptr   ? "finalize"
                        : table->alloc == nullptr      ? "alloc"
                        : table->free == nullptr       ? "free"
                        : table->name == nullptr       ? "name"
                        : table->last_error == nullptr ? "last_error"
                                                       : nullptr;
  if (missing != nullptr) {
    return fail(Status::kPluginAbiMismatch, "plugin %s: the required entry %s is null", path.c_str(), missing);
  }
  return Status::kOk;
}

Status open_library(const std::string& path, std::string* canonical, const nativepool_plugin_ops** out) noexcept {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return fail(Status::kPluginNotFound, "plugin %s: %s", path.c_str(), std::strerror(errno));
  }
  Libraries& registry = libraries();
  const std::lock_guard lock(registry.mutex);
  if (const auto found = registry.tables.find(resolved); found != registry.tables.end()) {
    *canonical = found->first;
    *out = found->second;
    return Status::kOk;
  }
  void* handle = ::dlopen(resolved, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return fail(Status::kPluginNotFound, "plugin %s: %s", path.c_str(), text(::dlerror()));
  auto entry = reinterpret_cast<nativepool_plugin_entry_fn>(::dlsym(handle, NATIVEPOOL_PLUGIN_ENTRY_NAME));
  if (entry == nullptr) {
    ::dlclose(handle);  // no table escaped: nothing of the library is in use
    return fail(Status::kPluginSymbolMissing, "plugin %s does not export %s", path.c_str(),
                NATIVEPOOL_PLUGIN_ENTRY_NAME);
  }
  const nativepool_plugin_ops* table = entry();
  if (const Status status = check_table(path, table); status != Status::kOk) {
    ::dlclose(handle);
    return status;
  }
  try {
    *canonical = resolved;
    registry.tables.emplace(*canonical, table);
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a plugin");
  }
  *out = table;
  return Status::kOk;
}

// The result codes of plugin.h, as the statuses the pools report.
Status plugin_status(int result) noexcept {
  switch (result) {
    case NATIVEPOOL_PLUGIN_OUT_OF_MEMORY: return Status::kOutOfPoolMemory;
    case NATIVEPOOL_PLUGIN_UNAVAILABLE: return Status::kFeatureUnavailable;
    default: return Status::kPluginFault;
  }
}

}  // namespace

Status PluginBackend::load(const std::string& path, const PluginOptions& options,
                           std::shared_ptr<PluginBackend>* out) noexcept try {
  std::string canonical;
  const nativepool_plugin_ops* found = nullptr;
  if (const Status status = open_library(path, &canonical, &found); status != Status::kOk) return status;
  // A plugin built against an older minor has a shorter table: copy what it
  // has, and the entries it lacks stay null.
  nativepool_plugin_ops table{};
  std::memcpy(&table, found, found->struct_size < sizeof table ? found->struct_size : sizeof table);
  std::vector<nativepool_plugin_option> flat;
  flat.reserve(options.size());
  for (const auto& [key, value] : options) flat.push_back({key.c_str(), value.c_str()});
  void* state = nullptr;
  if (const int result = table.init(flat.data(), flat.size(), &state); result != NATIVEPOOL_PLUGIN_OK) {
    const Status status = result == NATIVEPOOL_PLUGIN_INVALID_OPTION ? Status::kPluginOptionError
                          : result == NATIVEPOOL_PLUGIN_UNAVAILABLE  ? Status::kFeatureUnavailable
                                                                     : Status::kPluginFault;
    return fail(status, "plugin %s: %s", canonical.c_str(), text(table.last_error()));
  }
  std::shared_ptr<PluginBackend> backend;
  try {
    backend.reset(new PluginBackend(std::move(canonical), table, state));
  } catch (const std::bad_alloc&) {
    table.finalize(state);  // the instance exists: it must not leak with its memfd or device
    return fail(Status::kInternal, "out of host memory for a plugin");
  }
  if (table.memory_kind != nullptr) {
    int kind = NATIVEPOOL_PLUGIN_HOST;
    int device = -1;
    if (table.memory_kind(state, &kind, &device) != NATIVEPOOL_PLUGIN_OK || kind < NATIVEPOOL_PLUGIN_HOST ||
        kind > NATIVEPOOL_PLUGIN_PERSISTENT) {
      return fail(Status::kPluginFault, "plugin %s: memory_kind failed or named kind %d: %s",
                  backend->path_.c_str(), kind, text(table.last_error()));
    }
    backend->kind_ = static_cast<MemoryKind>(kind);
    backend->device_ = device;
  }
  *out = std::move(backend);
  return Status::kOk;
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for a plugin");
}

PluginBackend::PluginBackend(std::string path, const nativepool_plugin_ops& table, void* state)
    : path_(std::move(path)), table_(table), state_(state) {
  name_ = text(table_.name(state_));
  if (table_.describe != nullptr) description_ = text(table_.describe(state_));
}

PluginBackend::~PluginBackend() { table_.finalize(state_); }

Status PluginBackend::fault(const char* format, ...) noexcept {
  va_list args;
  va_start(args, format);
  char message[512];
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  faults_.fetch_add(1, std::memory_order_relaxed);
  {
    const std::lock_guard lock(mutex_);
    try {
      last_fault_ = message;
    } catch (const std::bad_alloc&) {
      last_fault_.clear();
    }
  }
  return fail(Status::kPluginFault, "plugin %s: %s", name_.c_str(), message);
}

std::string PluginBackend::last_fault() const {
  const std::lock_guard lock(mutex_);
  return last_fault_;
}

std::size_t PluginBackend::live_regions() const noexcept {
  const std::lock_guard lock(mutex_);
  return regions_.size();
}

Status PluginBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (size == 0 || !is_pow2(alignment)) {
    return fail(Status::kInvalidArgument, "plugin %s: bad region request (size %zu, alignment %zu)", name_.c_str(),
                size, alignment);
  }
  void* region = nullptr;
  if (const int result = table_.alloc(state_, size, alignment, &region); result != NATIVEPOOL_PLUGIN_OK) {
    const Status status = plugin_status(result);
    if (status == Status::kPluginFault) return fault("alloc of %zu bytes failed: %s", size, text(table_.last_error()));
    return fail(status, "plugin %s: %s", name_.c_str(), text(table_.last_error()));
  }
  if (const Status status = accept(region, size, alignment); status != Status::kOk) return status;
  *out = region;
  return Status::kOk;
}

// The checks between the plugin and the pools. A refused region that is
// still the plugin's own (misaligned) goes back to it; one that overlaps a
// live region does not, since freeing it would free memory a pool uses.
Status PluginBackend::accept(void* region, std::size_t size, std::size_t alignment) noexcept {
  const auto base = reinterpret_cast<std::uintptr_t>(region);
  if (region == nullptr) return fault("alloc of %zu bytes returned success and a null region", size);
  if (base % alignment != 0) {
    (void)table_.free(state_, region, size, alignment);
    return fault("alloc returned 0x%" PRIxPTR ", not aligned to %zu", base, alignment);
  }
  if (base + size < base) return fault("alloc returned 0x%" PRIxPTR " + %zu bytes, past the address space", base, size);
  Region entry{size, {}, false};
  if (table_.register_region != nullptr) {
    if (const int result = table_.register_region(state_, region, size, &entry.keys); result != NATIVEPOOL_PLUGIN_OK) {
      char message[320];
      std::snprintf(message, sizeof message, "%s", text(table_.last_error()));
      (void)table_.free(state_, region, size, alignment);
      const Status status = plugin_status(result);
      if (status == Status::kPluginFault) return fault("register_region failed: %s", message);
      return fail(status, "plugin %s: register_region: %s", name_.c_str(), message);
    }
    entry.registered = true;
  }
  std::uintptr_t clash = 0;
  std::size_t clash_size = 0;
  {
    const std::lock_guard lock(mutex_);
    auto next = regions_.lower_bound(base);
    if (next != regions_.end() && next->first < base + size) {
      clash = next->first;
      clash_size = next->second.size;
    } else if (next != regions_.begin() && std::prev(next)->first + std::prev(next)->second.size > base) {
      clash = std::prev(next)->first;
      clash_size = std::prev(next)->second.size;
    } else {
      try {
        regions_.emplace(base, entry);
        return Status::kOk;
      } catch (const std::bad_alloc&) {
        clash_size = 0;
      }
    }
  }
  if (entry.registered) (void)table_.deregister_region(state_, region, size, &entry.keys);
  if (clash_size == 0) {
    (void)table_.free(state_, region, size, alignment);
    return fail(Status::kInternal, "out of host memory for the region table of plugin %s", name_.c_str());
  }
  return fault("alloc returned [0x%" PRIxPTR ", +%zu), which overlaps the live region [0x%" PRIxPTR ", +%zu)", base,
               size, clash, clash_size);
}

void PluginBackend::deallocate(void* region, std::size_t size, std::size_t alignment) noexcept {
  Region entry{};
  {
    const std::lock_guard lock(mutex_);
    const auto found = regions_.find(reinterpret_cast<std::uintptr_t>(region));
    if (found == regions_.end()) return;  // never accepted: not the plugin's to free
    entry = found->second;
    // Out of the table before the plugin frees it, so a region it hands out
    // again at once is not taken for an overlap.
    regions_.erase(found);
  }
  if (entry.registered && table_.deregister_region(state_, region, size, &entry.keys) != NATIVEPOOL_PLUGIN_OK) {
    (void)fault("deregister_region of %p failed: %s", region, text(table_.last_error()));
  }
  if (table_.free(state_, region, size, alignment) != NATIVEPOOL_PLUGIN_OK) {
    (void)fault("free of %p (%zu bytes) failed: %s", region, size, text(table_.last_error()));
  }
  clear_error_detail();  // nobody reads a fault of deallocate() as the reason of the next failure
}

const PluginBackend::Region* PluginBackend::find(std::uintptr_t address, std::uintptr_t* base) const noexcept {
  auto next = regions_.upper_bound(address);
  if (next == regions_.begin()) return nullptr;
  --next;
  if (address - next->first >= next->second.size) return nullptr;
  *base = next->first;
  return &next->second;
}

Status PluginBackend::purge(void* address, std::size_t length) noexcept {
  if (table_.purge == nullptr) return fail(Status::kFeatureUnavailable, "plugin %s cannot purge", name_.c_str());
  const auto start = reinterpret_cast<std::uintptr_t>(address);
  std::uintptr_t base = 0;
  std::size_t size = 0;
  {
    const std::lock_guard lock(mutex_);
    const Region* region = find(start, &base);
    if (region == nullptr || length == 0 || length > region->size - (start - base)) {
      return fail(Status::kInvalidArgument, "plugin %s: [%p, +%zu) is not inside one live region", name_.c_str(),
                  address, length);
    }
    size = region->size;
  }
  if (const int result = table_.purge(state_, reinterpret_cast<void*>(base), size, start - base, length);
      result != NATIVEPOOL_PLUGIN_OK) {
    return fail(plugin_status(result), "plugin %s: purge: %s", name_.c_str(), text(table_.last_error()));
  }
  return Status::kOk;
}

Status PluginBackend::keys(const void* address, nativepool_plugin_keys* out) const noexcept {
  if (table_.register_region == nullptr) {
    return fail(Status::kFeatureUnavailable, "plugin %s registers no region with a device", name_.c_str());
  }
  const std::lock_guard lock(mutex_);
  std::uintptr_t base = 0;
  const Region* region = find(reinterpret_cast<std::uintptr_t>(address), &base);
  if (region == nullptr) {
    return fail(Status::kInvalidArgument, "plugin %s: %p is in none of its regions", name_.c_str(), address);
  }
  *out = region->keys;
  return Status::kOk;
}

Status PluginBackend::export_region(const void* address, nativepool_plugin_export* out,
                                    std::size_t* offset) const noexcept {
  if (table_.export_region == nullptr) {
    return fail(Status::kFeatureUnavailable, "plugin %s cannot share regions with another process", name_.c_str());
  }
  std::uintptr_t base = 0;
  std::size_t size = 0;
  {
    const std::lock_guard lock(mutex_);
    const Region* region = find(reinterpret_cast<std::uintptr_t>(address), &base);
    if (region == nullptr) {
      return fail(Status::kInvalidArgument, "plugin %s: %p is in none of its regions", name_.c_str(), address);
    }
    size = region->size;
  }
  if (const int result = table_.export_region(state_, reinterpret_cast<void*>(base), size, out);
      result != NATIVEPOOL_PLUGIN_OK) {
    return fail(plugin_status(result), "plugin %s: export_region: %s", name_.c_str(), text(table_.last_error()));
  }
  *offset = reinterpret_cast<std::uintptr_t>(address) - base;
  return Status::kOk;
}

}  // namespace nativepool
