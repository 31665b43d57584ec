// SPDX-License-Identifier: Apache-2.0
// PersistentHeap::snapshot: one region per segment that its runs tile, live blocks with
// their requested sizes, free extents as the stats count them, reservations
// as live blocks without a size, and the same picture after a reopen.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "nativepool/persistent_heap.hpp"

namespace nativepool {
namespace {

class PersistentSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/np-snap-XXXXXX");
    dir_ = mkdtemp(pattern.data());
    path_ = dir_ + "/heap";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string dir_;
  std::string path_;
};

struct Totals {
  std::uint64_t live_blocks = 0;
  std::uint64_t live_bytes = 0;
  std::uint64_t requested = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t free_runs = 0;
};

// Checks that the runs tile each of @p regions regions (one per segment) and
// adds them up.
Totals add_up(const PersistentHeap& heap, const MemorySnapshot& snapshot, std::size_t regions = 1) {
  Totals totals;
  EXPECT_EQ(snapshot.regions.size(), regions);
  std::uint64_t region_bytes = 0;
  for (const SnapshotRegion& region : snapshot.regions) {
    EXPECT_EQ(region.base % PersistentHeap::kUnit, 0U);
    region_bytes += region.size;
    std::uint64_t at = 0;
    for (std::size_t i = region.first; i < region.first + region.count; ++i) {
      const SnapshotRun& run = snapshot.runs[i];
      EXPECT_EQ(run.offset, at);
      at = run.end();
      if (run.state == BlockState::kLive) {
        totals.live_blocks += run.count;
        totals.live_bytes += run.size * run.count;
        totals.requested += run.requested;
      } else {
        EXPECT_EQ(run.state, BlockState::kFree);
        totals.free_bytes += run.size * run.count;
        ++totals.free_runs;
      }
    }
    EXPECT_EQ(at, region.size);
  }
  EXPECT_EQ(region_bytes, heap.stats().heap_bytes);
  return totals;
}

TEST_F(PersistentSnapshotTest, RunsAreTheTableTheFreeExtentsAndTheReservations) {
  PersistentOptions options;
  options.capacity = 256 << 10;
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk) << error_detail();
  std::uint64_t blocks[4] = {};
  for (std::size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(heap->allocate(100 * (i + 1), PersistentHeap::root_slot(i), &blocks[i]), Status::kOk);
  }
  ASSERT_EQ(heap->free(PersistentHeap::root_slot(1)), Status::kOk);  // a hole between live blocks
  PersistentReservation reservation;
  ASSERT_EQ(heap->reserve(1000, &reservation), Status::kOk);

  MemorySnapshot snapshot;
  ASSERT_EQ(heap->snapshot(&snapshot), Status::kOk) << error_detail();
  const PersistentStats stats = heap->stats();
  Totals totals = add_up(*heap, snapshot);
  EXPECT_EQ(totals.live_blocks, 4U);  // three published, one reserved
  EXPECT_EQ(totals.requested, stats.bytes_in_use);
  EXPECT_EQ(totals.free_bytes, stats.free_bytes);
  EXPECT_EQ(totals.free_runs, stats.free_extents);
  const SnapshotRun& first = snapshot.runs[0];
  EXPECT_EQ(snapshot.regions[0].base + first.offset, reinterpret_cast<std::uintptr_t>(heap->address(blocks[0])));
  EXPECT_EQ(first.requested, 100U);
  EXPECT_EQ(first.size, 128U);  // two 64-byte units
  EXPECT_EQ(snapshot.runs[1].state, BlockState::kFree);  // where block 1 was
  EXPECT_EQ(snapshot.runs[1].size, 256U);

  ASSERT_EQ(heap->cancel(reservation), Status::kOk);
  heap.reset();
  ASSERT_EQ(PersistentHeap::open(path_.c_str(), {}, &heap), Status::kOk) << error_detail();
  ASSERT_EQ(heap->snapshot(&snapshot), Status::kOk) << error_detail();
  totals = add_up(*heap, snapshot);
  EXPECT_EQ(totals.live_blocks, 3U);
  EXPECT_EQ(totals.requested, 100U + 300U + 400U);
  EXPECT_EQ(totals.free_runs, heap->stats().free_extents);
}

TEST_F(PersistentSnapshotTest, AGrownHeapShowsOneRegionPerSegment) {
  PersistentOptions options;
  options.capacity = 256 << 10;
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk) << error_detail();
  std::uint64_t before = 0;
  ASSERT_EQ(heap->allocate(100, PersistentHeap::root_slot(0), &before), Status::kOk);
  ASSERT_EQ(heap->grow(heap->capacity() + (512 << 10)), Status::kOk) << error_detail();
  std::uint64_t after = 0;  // larger than segment 0 can hold: it lies in the new one
  ASSERT_EQ(heap->allocate(300 << 10, PersistentHeap::root_slot(1), &after), Status::kOk) << error_detail();

  MemorySnapshot snapshot;
  ASSERT_EQ(heap->snapshot(&snapshot), Status::kOk) << error_detail();
  const Totals totals = add_up(*heap, snapshot, 2);
  EXPECT_EQ(totals.live_blocks, 2U);
  EXPECT_EQ(totals.requested, 100U + (300U << 10));
  EXPECT_EQ(totals.free_bytes, heap->stats().free_bytes);
  ASSERT_EQ(snapshot.regions.size(), 2U);
  const SnapshotRegion& grown = snapshot.regions[1];
  const SnapshotRun& first = snapshot.runs[grown.first];
  EXPECT_EQ(grown.base + first.offset, reinterpret_cast<std::uintptr_t>(heap->address(after)));
  EXPECT_EQ(first.requested, 300U << 10);
}

}  // namespace
}  // namespace nativepool
