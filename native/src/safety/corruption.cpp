// SPDX-License-Identifier: Apache-2.0
#include "nativepool/safety/corruption.hpp"

#include <cinttypes>

namespace nativepool {
namespace {
// Beside the thread-local detail message of status.cpp, for the same reason:
// a report belongs to the thread whose call found the damage.
thread_local CorruptionReport t_report;

void describe(const CorruptionReport& r) noexcept {
  const char* site = r.site != nullptr ? r.site : "unknown (tracking is off at this safety level)";
  if (r.guard == Guard::kFreed) {
    (void)fail(Status::kMemoryCorrupted,
               "write after free: the freed block at 0x%" PRIxPTR " (%zu bytes) was modified at offset %td; "
               "found when its memory was handed out again",
               r.block, r.size, r.offset);
    return;
  }
  (void)fail(Status::kMemoryCorrupted,
             "memory corruption: %s guard of block 0x%" PRIxPTR " (%zu bytes) overwritten at offset %td; "
             "allocated at: %s",
             guard_name(r.guard), r.block, r.size, r.offset, site);
}
}  // namespace

const char* guard_name(Guard guard) noexcept {
  switch (guard) {
    case Guard::kFront: return "front";
    case Guard::kBack: return "back";
    case Guard::kFreed: return "freed";
  }
  return "unknown";
}

Status fail_corruption(const CorruptionReport& report) noexcept {
  t_report = report;
  describe(t_report);
  return Status::kMemoryCorrupted;
}

void attach_allocation_site(const char* site) noexcept {
  t_report.site = site;
  describe(t_report);
}

const CorruptionReport& last_corruption() noexcept { return t_report; }

}  // namespace nativepool
