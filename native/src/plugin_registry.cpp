// SPDX-License-Identifier: Apache-2.0
// The plugin instances the Java API names by id (BackendType::kPlugin).
#include <climits>
#include <cstdlib>
#include <mutex>
#include <new>

#include "id_registry.hpp"
#include "nativepool/backends.hpp"

namespace nativepool {
namespace {

struct Entry {
  PluginOptions options;
  std::shared_ptr<PluginBackend> backend;
};

IdRegistry<Entry>& plugins() noexcept {
  static IdRegistry<Entry> instance;
  return instance;
}

}  // namespace

Status register_plugin(const std::string& path, const PluginOptions& options, int* id) noexcept try {
  IdRegistry<Entry>& registry = plugins();
  // Under the lock, so two threads registering the same plugin at once share
  // one instance; registrations are rare.
  const std::lock_guard lock(registry.mutex);
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr) {
    for (std::size_t i = 0; i < registry.entries.size(); ++i) {
      const Entry& entry = registry.entries[i];
      if (entry.backend->path() == resolved && entry.options == options) {
        *id = static_cast<int>(i);
        return Status::kOk;
      }
    }
  }
  std::shared_ptr<PluginBackend> backend;
  if (const Status status = PluginBackend::load(path, options, &backend); status != Status::kOk) return status;
  return registry.append({options, std::move(backend)}, "plugin backend", id);
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for a plugin");
}

Status registered_plugin(int id, std::shared_ptr<PluginBackend>* out) noexcept {
  Entry entry;
  if (const Status status = plugins().get(id, "plugin backend", &entry); status != Status::kOk) return status;
  *out = std::move(entry.backend);
  return Status::kOk;
}

}  // namespace nativepool
