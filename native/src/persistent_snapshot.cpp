// SPDX-License-Identifier: Apache-2.0
// PersistentHeap::snapshot: the heap's block area as the runs of a memory
// snapshot, from the host-side structures open() rebuilt from the table.
#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>

#include "nativepool/persistent_heap.hpp"

namespace nativepool {

namespace {

using Entries = std::map<std::uint64_t, std::uint64_t>;

// The first entry of @p entries at or after @p at: entries before it are
// passed (none are, in a heap whose structures tile it).
Entries::const_iterator from(const Entries& entries, Entries::const_iterator it, std::uint64_t at) noexcept {
  while (it != entries.end() && it->first < at) ++it;
  return it;
}

}  // namespace

Status PersistentHeap::snapshot(MemorySnapshot* out) const noexcept try {
  // One region per segment; one run per live block, free extent and
  // reservation, and one per gap between them should the structures not
  // tile the heap (and per segment end).
  std::size_t runs = 1;
  for (;;) {
    out->make_room(kMaxGrows + 1, runs);
    const std::lock_guard<std::mutex> hold(lock_);
    const std::size_t needed = 2 * (live_.size() + free_by_offset_.size() + reserved_.size()) + 2 * segment_count_;
    if (!out->has_room(segment_count_, needed)) {
      runs = needed;
      continue;
    }
    auto live = live_.begin();
    auto free = free_by_offset_.begin();
    auto reserved = reserved_.begin();
    for (std::size_t k = 0; k < segment_count_; ++k) {
      const Segment& segment = segments_[k];
      const std::uint64_t end = segment.heap_end();
      out->begin_region(reinterpret_cast<std::uintptr_t>(base_ + segment.heap_offset), segment.units * kUnit);
      for (std::uint64_t at = segment.heap_offset; at < end;) {
        live = from(live_, live, at);
        free = from(free_by_offset_, free, at);
        reserved = from(reserved_, reserved, at);
        SnapshotRun run;
        run.offset = at - segment.heap_offset;
        run.state = BlockState::kLive;
        if (live != live_.end() && live->first == at) {
          run.requested = live->second;
          run.size = std::max<std::uint64_t>(1, (live->second + kUnit - 1) / kUnit) * kUnit;
        } else if (free != free_by_offset_.end() && free->first == at) {
          run.state = BlockState::kFree;
          run.size = free->second * kUnit;
        } else if (reserved != reserved_.end() && reserved->first == at) {
          run.size = reserved->second * kUnit;  // in its writer's hands, its size not yet recorded
        } else {
          std::uint64_t next = end;
          for (const auto& [it, entries] : {std::pair{live, &live_}, std::pair{free, &free_by_offset_},
                                            std::pair{reserved, &reserved_}}) {
            if (it != entries->end()) next = std::min(next, it->first);
          }
          run.size = next - at;  // no structure knows it: shown as taken, not as free to allocate
        }
        if (run.size == 0) break;  // a zero-unit extent: the walk stops rather than loop (validate() reports it)
        run.size = std::min(run.size, end - at);  // no run crosses into the next segment's table
        out->add(run);
        at += run.size;
      }
    }
    return Status::kOk;
  }
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "persistent heap: out of host memory for a snapshot");
}

}  // namespace nativepool
