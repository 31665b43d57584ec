// SPDX-License-Identifier: Apache-2.0
/// @file snapshot.hpp
/// @brief MemorySnapshot: a pool's regions and the blocks in each, in
/// address order, as a picture of its memory (what Vulkan Memory
/// Allocator's JSON dump and PyTorch's memory snapshot show).
///
/// The algorithm walks its own metadata under its lock and writes one run
/// per stretch of equal blocks: neighbouring blocks of one state and size
/// that carry no detail of their own merge into one entry, so a fixed pool
/// of a million free blocks is one entry per chunk, and the lock is held for
/// a walk of the block records and nothing else. Safety layers then refine
/// the live blocks from their own tables, each under its own lock: the
/// canary layer splits each block into its guard margins and the user
/// bytes with the requested size, tracking adds age and allocation site. A
/// block freed between the two walks keeps what the algorithm saw.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "nativepool/status.hpp"

namespace nativepool {

/// What a stretch of a region holds. Values are mirrored by
/// org.nativepool.BlockState: append only.
enum class BlockState : std::uint8_t {
  kLive = 0,    ///< in a user's hands
  kFree = 1,    ///< in the pool's free lists
  kCached = 2,  ///< parked in a thread or stream cache: out of the free lists, in no user's hands
  kGuard = 3,   ///< a canary margin around a live block
};

/// @p count equal, adjacent blocks of @p size bytes from @p offset on.
struct SnapshotRun {
  std::uint64_t offset = 0;     ///< from the region's base
  std::uint64_t size = 0;       ///< bytes of each block
  std::uint64_t count = 1;      ///< blocks in the run
  std::uint64_t requested = 0;  ///< bytes the user asked for; 0: not recorded
  std::int64_t age_ns = -1;     ///< since allocation; -1: not recorded
  const char* site = nullptr;   ///< allocation site (an interned string); null: not recorded
  BlockState state = BlockState::kFree;

  [[nodiscard]] std::uint64_t end() const noexcept { return offset + size * count; }
  [[nodiscard]] bool plain() const noexcept { return requested == 0 && age_ns < 0 && site == nullptr; }
};

/// One chunk or arena and its runs, runs[first, first + count).
struct SnapshotRegion {
  std::uintptr_t base = 0;
  std::uint64_t size = 0;
  std::size_t first = 0;
  std::size_t count = 0;
};

/// A pool's memory at one moment.
struct MemorySnapshot {
  std::vector<SnapshotRegion> regions;  ///< in address order once sort_regions() ran
  std::vector<SnapshotRun> runs;

  /// Whether a walk that adds up to @p region_count regions and
  /// @p run_count runs fits without allocating: algorithms walk under their
  /// lock only once it does, and make room between attempts, unlocked.
  [[nodiscard]] bool has_room(std::size_t region_count, std::size_t run_count) const noexcept {
    return regions.capacity() >= region_count && runs.capacity() >= run_count;
  }
  /// Reserves room and writes it once, so that the page faults of fresh
  /// memory happen here, not in the walk under the lock.
  void make_room(std::size_t region_count, std::size_t run_count) {
    if (regions.capacity() < region_count) regions.resize(region_count);
    if (runs.capacity() < run_count) runs.resize(run_count);
    regions.clear();
    runs.clear();
  }

  /// Starts a region; the runs added next belong to it.
  void begin_region(std::uintptr_t base, std::uint64_t size) {
    regions.push_back(SnapshotRegion{base, size, runs.size(), 0});
  }

  /// Appends a run to the current region, merged with the one before when
  /// both are plain, of one state and block size, and adjacent.
  void add(const SnapshotRun& run) {
    SnapshotRegion& region = regions.back();
    if (region.count != 0 && run.plain()) {
      SnapshotRun& last = runs.back();
      if (last.plain() && last.state == run.state && last.size == run.size && last.end() == run.offset) {
        last.count += run.count;
        return;
      }
    }
    runs.push_back(run);
    ++region.count;
  }

  /// Moves the regions and runs of @p other to the end of this one.
  void append(MemorySnapshot&& other) {
    for (SnapshotRegion region : other.regions) {
      region.first += runs.size();
      regions.push_back(region);
    }
    runs.insert(runs.end(), other.runs.begin(), other.runs.end());
    other = MemorySnapshot{};
  }

  void sort_regions() {
    std::sort(regions.begin(), regions.end(),
              [](const SnapshotRegion& a, const SnapshotRegion& b) { return a.base < b.base; });
  }

  /// Replaces every live block by what @p refine(address, run, into)
  /// appends for it to @p into (through add(), which files it under the
  /// block's region); other runs stay. A live run of several blocks is
  /// offered block by block, with count 1.
  template <class Refine>
  void refine_live(Refine refine) {
    MemorySnapshot refined;
    refined.regions.reserve(regions.size());
    refined.runs.reserve(runs.size());
    for (const SnapshotRegion& region : regions) {
      refined.begin_region(region.base, region.size);
      for (std::size_t i = region.first; i < region.first + region.count; ++i) {
        const SnapshotRun& run = runs[i];
        if (run.state != BlockState::kLive) {
          refined.add(run);
          continue;
        }
        for (std::uint64_t b = 0; b < run.count; ++b) {
          SnapshotRun block = run;
          block.offset = run.offset + b * run.size;
          block.count = 1;
          refine(region.base + block.offset, block, &refined);
        }
      }
    }
    *this = std::move(refined);
  }
};

namespace snapshot {

/// Fills @p out from @p pool, an algorithm wrapped in adaptors: the
/// innermost layer that takes snapshots does, then every layer above it
/// that refines them refines, innermost first. kInternal when out of host
/// memory (@p out is then cleared).
template <class A>
[[nodiscard]] Status take(const A& pool, MemorySnapshot* out) noexcept {
  if constexpr (requires { pool.snapshot(out); }) {
    return pool.snapshot(out);
  } else {
    const Status status = take(pool.inner(), out);
    if constexpr (requires { pool.refine(out); }) {
      if (status != Status::kOk) return status;
      try {
        pool.refine(out);
      } catch (const std::bad_alloc&) {
        *out = MemorySnapshot{};
        return fail(Status::kInternal, "snapshot: out of host memory for the block list");
      }
    }
    return status;
  }
}

}  // namespace snapshot
}  // namespace nativepool
