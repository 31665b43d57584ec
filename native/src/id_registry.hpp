// SPDX-License-Identifier: Apache-2.0
// The process-lifetime tables behind the ids the Java API passes as backend
// parameters (NUMA specs, plugins, listened backends): an entry, once added,
// stays, so an id a Backend object holds is always valid (internal).
#pragma once

#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include "nativepool/status.hpp"

namespace nativepool {

template <class Entry>
struct IdRegistry {
  mutable std::mutex mutex;
  std::vector<Entry> entries;  // guarded by mutex

  /// Copies entry @p id into @p out; kInvalidArgument naming @p what for an unknown id.
  [[nodiscard]] Status get(int id, const char* what, Entry* out) const noexcept try {
    const std::lock_guard lock(mutex);
    if (id < 0 || static_cast<std::size_t>(id) >= entries.size()) {
      return fail(Status::kInvalidArgument, "unknown %s id %d", what, id);
    }
    *out = entries[static_cast<std::size_t>(id)];
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a %s", what);
  }

  /// Appends @p entry and stores its id; the caller holds mutex.
  [[nodiscard]] Status append(Entry entry, const char* what, int* id) noexcept try {
    entries.push_back(std::move(entry));
    *id = static_cast<int>(entries.size() - 1);
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a %s", what);
  }
};

}  // namespace nativepool
