// SPDX-License-Identifier: Apache-2.0
#include "nativepool/safety/allocation_site.hpp"

#include <mutex>
#include <new>
#include <string>
#include <unordered_set>

namespace nativepool {
namespace {
thread_local const char* t_site = nullptr;

// Interned sites are few (one per call site) and live forever: tracked
// blocks keep raw pointers to them.
struct SiteTable {
  std::mutex lock;
  std::unordered_set<std::string> sites;
};

SiteTable& site_table() noexcept {
  static SiteTable* table = new SiteTable;  // never destroyed: pools may outlive statics
  return *table;
}
}  // namespace

const char* current_allocation_site() noexcept { return t_site; }

void set_allocation_site(const char* site) noexcept { t_site = site; }

const char* intern_allocation_site(std::string_view site) noexcept {
  SiteTable& table = site_table();
  std::lock_guard guard(table.lock);
  try {
    return table.sites.emplace(site).first->c_str();
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace nativepool
