// SPDX-License-Identifier: Apache-2.0
// Pool::snapshot() over every kind of pool: regions in address order, runs
// that tile each region exactly, states that agree with the statistics, and
// the refinements of the safety layers (guards, requested size, age, site).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nativepool/safety/allocation_site.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/snapshot.hpp"

namespace nativepool {
namespace {

struct Totals {
  std::uint64_t bytes[4] = {};
  std::uint64_t blocks[4] = {};
};

// Checks the snapshot's shape and adds up bytes and blocks by state.
Totals check_tiling(const MemorySnapshot& s) {
  Totals t;
  for (std::size_t r = 0; r < s.regions.size(); ++r) {
    const SnapshotRegion& region = s.regions[r];
    if (r > 0) {
      EXPECT_LE(s.regions[r - 1].base + s.regions[r - 1].size, region.base) << "regions out of order";
    }
    std::uint64_t at = 0;
    for (std::size_t i = region.first; i < region.first + region.count; ++i) {
      const SnapshotRun& run = s.runs[i];
      EXPECT_EQ(run.offset, at) << "run " << i << " leaves a gap or overlaps";
      EXPECT_GT(run.count, 0U);
      at = run.end();
      t.bytes[static_cast<int>(run.state)] += run.size * run.count;
      t.blocks[static_cast<int>(run.state)] += run.count;
    }
    EXPECT_EQ(at, region.size) << "region " << r << " is not tiled";
  }
  return t;
}

std::unique_ptr<Pool> fixed(ThreadSafety mode, SafetyLevel level, std::size_t block = 64, std::size_t chunk = 256) {
  FixedPoolConfig config;
  config.block_size = block;
  config.blocks_per_chunk = chunk;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_fixed_pool(config, mode, std::make_shared<MallocBackend>(), &pool, level), Status::kOk)
      << error_detail();
  return pool;
}

std::unique_ptr<Pool> variable(SafetyLevel level, std::size_t arena = std::size_t{1} << 16) {
  VariablePoolConfig config;
  config.arena_size = arena;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_variable_pool(config, ThreadSafety::kMutex, std::make_shared<MallocBackend>(), &pool, level),
            Status::kOk)
      << error_detail();
  return pool;
}

TEST(Snapshot, FixedPoolRunsAgreeWithStats) {
  for (const ThreadSafety mode : {ThreadSafety::kNone, ThreadSafety::kMutex, ThreadSafety::kLockFree}) {
    auto pool = fixed(mode, SafetyLevel::kOff);
    std::vector<void*> blocks(600);
    for (void*& b : blocks) ASSERT_EQ(pool->allocate(64, 0, &b), Status::kOk);
    for (std::size_t i = 0; i < blocks.size(); i += 3) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
    MemorySnapshot s;
    ASSERT_EQ(pool->snapshot(&s), Status::kOk) << error_detail();
    const PoolStats stats = pool->stats();
    ASSERT_EQ(s.regions.size(), stats.reserved.regions);
    const Totals t = check_tiling(s);
    // Parked blocks of the calling thread's cache are cached; the pool's own free blocks are free.
    EXPECT_EQ(t.blocks[0], stats.live_blocks);
    EXPECT_EQ(t.blocks[1] + t.blocks[2], stats.fragmentation.free_blocks);
    EXPECT_EQ(t.bytes[0], stats.bytes_in_use);
  }
}

TEST(Snapshot, FreeSpaceIsRunLengthEncoded) {
  auto pool = fixed(ThreadSafety::kNone, SafetyLevel::kOff, 64, 1024);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
  MemorySnapshot s;
  ASSERT_EQ(pool->snapshot(&s), Status::kOk);
  ASSERT_EQ(s.regions.size(), 1U);
  ASSERT_EQ(s.runs.size(), 2U);  // the one live block, then 1023 free blocks as one run
  EXPECT_EQ(s.runs[0].state, BlockState::kLive);
  EXPECT_EQ(s.runs[1].state, BlockState::kFree);
  EXPECT_EQ(s.runs[1].count, 1023U);
}

TEST(Snapshot, VariablePoolShowsHolesAndArenas) {
  auto pool = variable(SafetyLevel::kOff);
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 300; ++i) {
    void* b = nullptr;
    ASSERT_EQ(pool->allocate(100 + (i % 7) * 48, 0, &b), Status::kOk);
    blocks.push_back(b);
  }
  for (std::size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
  MemorySnapshot s;
  ASSERT_EQ(pool->snapshot(&s), Status::kOk);
  const PoolStats stats = pool->stats();
  const Totals t = check_tiling(s);
  EXPECT_EQ(s.regions.size(), stats.reserved.regions);
  EXPECT_GT(s.regions.size(), 1U);
  EXPECT_EQ(t.bytes[1], stats.fragmentation.free_bytes);
  EXPECT_EQ(t.blocks[1], stats.fragmentation.free_blocks);
  EXPECT_EQ(t.bytes[0], stats.bytes_in_use);
  EXPECT_EQ(t.blocks[0], stats.live_blocks);
}

TEST(Snapshot, CanariesShowGuardsAndFullTrackingAddsSiteAndAge) {
  for (const SafetyLevel level : {SafetyLevel::kCanaries, SafetyLevel::kFull}) {
    for (const bool is_fixed : {true, false}) {
      auto pool = is_fixed ? fixed(ThreadSafety::kMutex, level, 100) : variable(level);
      void* a = nullptr;
      void* b = nullptr;
      {
        ScopedAllocationSite site("snapshot_test:a");
        ASSERT_EQ(pool->allocate(90, 0, &a), Status::kOk);
      }
      ASSERT_EQ(pool->allocate(40, 0, &b), Status::kOk);
      MemorySnapshot s;
      ASSERT_EQ(pool->snapshot(&s), Status::kOk) << error_detail();
      const Totals t = check_tiling(s);
      EXPECT_EQ(t.blocks[0], 2U);
      EXPECT_EQ(t.bytes[0], pool->stats().bytes_in_use);
      EXPECT_GE(t.blocks[3], 4U);  // a front and a back margin each (neighbouring margins may merge)
      const SnapshotRun* live_a = nullptr;
      for (const SnapshotRun& run : s.runs) {
        if (run.state == BlockState::kLive && s.regions[0].base + run.offset == reinterpret_cast<std::uintptr_t>(a)) {
          live_a = &run;
        }
      }
      ASSERT_NE(live_a, nullptr) << "block a is not in the snapshot at its user address";
      EXPECT_EQ(live_a->requested, 90U);
      if (level == SafetyLevel::kFull) {
        EXPECT_STREQ(live_a->site, "snapshot_test:a");
        EXPECT_GE(live_a->age_ns, 0);
      } else {
        EXPECT_EQ(live_a->site, nullptr);
        EXPECT_EQ(live_a->age_ns, -1);
      }
      // Over several regions: every live block refined in its own region.
      std::vector<void*> more(300);
      for (void*& m : more) ASSERT_EQ(pool->allocate(is_fixed ? 100 : 1000, 0, &m), Status::kOk);
      ASSERT_EQ(pool->snapshot(&s), Status::kOk) << error_detail();
      ASSERT_GT(s.regions.size(), 1U);
      EXPECT_EQ(check_tiling(s).blocks[0], 302U);
      for (void* m : more) ASSERT_EQ(pool->deallocate(m), Status::kOk);
      ASSERT_EQ(pool->deallocate(a), Status::kOk);
      ASSERT_EQ(pool->deallocate(b), Status::kOk);
    }
  }
}

// The figures docs/performance.md quotes: how long a snapshot of a pool of
// a million blocks takes, and the longest a single allocate + free pair on
// another thread waits meanwhile (the walk under the lock; room for the runs
// is made before it).
TEST(Snapshot, StressMillionBlocksStallAllocationBriefly) {
  constexpr std::size_t kBlocks = 1 << 20;
  for (const bool is_fixed : {true, false}) {
    auto pool = is_fixed ? fixed(ThreadSafety::kMutex, SafetyLevel::kOff, 64, 1 << 14)
                         : variable(SafetyLevel::kOff, std::size_t{64} << 20);
    std::vector<void*> blocks(kBlocks);
    for (void*& b : blocks) ASSERT_EQ(pool->allocate(48, 0, &b), Status::kOk);
    // Every other block free: the worst case, a run per block.
    for (std::size_t i = 0; i < kBlocks; i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> worst_ns{0};
    std::thread allocator([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const auto start = std::chrono::steady_clock::now();
        void* b = nullptr;
        if (pool->allocate(48, 0, &b) != Status::kOk || pool->deallocate(b) != Status::kOk) std::abort();
        const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - start).count();
        if (ns > worst_ns.load(std::memory_order_relaxed)) worst_ns.store(ns, std::memory_order_relaxed);
      }
    });
    MemorySnapshot s;
    double best = 1e9;
    for (int round = 0; round < 5; ++round) {
      const auto start = std::chrono::steady_clock::now();
      ASSERT_EQ(pool->snapshot(&s), Status::kOk);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    stop.store(true);
    allocator.join();
    EXPECT_GE(s.runs.size(), kBlocks - 2);  // the other thread's one block may have merged two runs
    std::printf("[ snapshot ] %s pool, %zu blocks, %zu runs: snapshot %.1f ms (best of 5), longest allocate+free "
                "meanwhile %.1f ms\n",
                is_fixed ? "fixed" : "variable", kBlocks, s.runs.size(), best,
                static_cast<double>(worst_ns.load()) / 1e6);
    for (std::size_t i = 1; i < kBlocks; i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
  }
}

}  // namespace
}  // namespace nativepool
