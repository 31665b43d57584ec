// SPDX-License-Identifier: Apache-2.0
// The counting adaptor and the type-erased pool: counters exact after random
// sequences and under contention, batches all or nothing.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "nativepool/erased_pool.hpp"
#include "nativepool/fixed_pool.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/math.hpp"
#include "nativepool/statistics.hpp"
#include "nativepool/variable_pool.hpp"
#include "size_classes.hpp"

namespace nativepool {
namespace {

template <ThreadSafety Mode>
std::unique_ptr<Pool> make_counted_pool(std::size_t max_bytes = 0) {
  VariablePoolConfig config;
  config.arena_size = 1 << 20;
  config.max_bytes = max_bytes;
  std::unique_ptr<VariablePool<Mode>> algorithm;
  EXPECT_EQ(VariablePool<Mode>::create(config, std::make_shared<MallocBackend>(), &algorithm), Status::kOk);
  PoolInfo info;
  info.algorithm = "variable";
  return std::make_unique<ErasedPool<VariablePool<Mode>>>(std::move(algorithm), info);
}

TEST(WithStatistics, CountersAreExactAfterARandomSequence) {
  auto pool = make_counted_pool<ThreadSafety::kNone>();
  std::mt19937_64 random(11);
  std::vector<std::pair<void*, std::size_t>> live;
  std::uint64_t allocations = 0, frees = 0, in_use = 0, peak = 0;
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || random() % 100 < 55) {
      const std::size_t size = 1 + random() % 8000;
      void* block = nullptr;
      ASSERT_EQ(pool->allocate(size, 0, &block), Status::kOk);
      live.emplace_back(block, testing_support::expected_block_size(size));
      ++allocations;
      in_use += live.back().second;
      peak = std::max(peak, in_use);
    } else {
      const std::size_t victim = random() % live.size();
      ASSERT_EQ(pool->deallocate(live[victim].first), Status::kOk);
      in_use -= live[victim].second;
      live[victim] = live.back();
      live.pop_back();
      ++frees;
    }
  }
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, allocations);
  EXPECT_EQ(stats.frees, frees);
  EXPECT_EQ(stats.live_blocks, live.size());
  EXPECT_EQ(stats.bytes_in_use, in_use);
  EXPECT_EQ(stats.peak_bytes_in_use, peak);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.fragmentation.free_bytes, stats.reserved.bytes - in_use);
  EXPECT_EQ(pool->validate(), Status::kOk);
}

TEST(WithStatistics, FailuresAreCountedAndChangeNothingElse) {
  auto pool = make_counted_pool<ThreadSafety::kNone>(1 << 20);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(100, 0, &block), Status::kOk);
  EXPECT_EQ(pool->allocate(0, 0, &block), Status::kInvalidArgument);
  EXPECT_EQ(pool->allocate(2 << 20, 0, &block), Status::kOutOfPoolMemory);
  int local = 0;
  EXPECT_EQ(pool->deallocate(&local), Status::kInvalidFree);
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, 1u);
  EXPECT_EQ(stats.failures, 2u);
  EXPECT_EQ(stats.frees, 0u);
  EXPECT_EQ(stats.bytes_in_use, 112u);
}

TEST(ErasedPool, BatchAllocationIsAllOrNothing) {
  auto pool = make_counted_pool<ThreadSafety::kNone>(1 << 20);
  std::vector<void*> blocks(20, nullptr);
  // 20 blocks of 64 KiB fit in 1 MiB only 16 times.
  EXPECT_EQ(pool->allocate_batch(64 << 10, 0, blocks.data(), blocks.size()), Status::kOutOfPoolMemory);
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0u) << "the partial batch was rolled back";
  for (void* block : blocks) EXPECT_EQ(block, nullptr) << "no stale address escapes";
  EXPECT_EQ(stats.bytes_in_use, 0u);
  // The refused batch counts as one failed call and moves nothing else.
  EXPECT_EQ(stats.allocations, 0u);
  EXPECT_EQ(stats.frees, 0u);
  EXPECT_EQ(stats.peak_bytes_in_use, 0u);
  EXPECT_EQ(stats.failures, 1u);
  ASSERT_EQ(pool->allocate_batch(64 << 10, 0, blocks.data(), 16), Status::kOk);
  EXPECT_EQ(pool->stats().live_blocks, 16u);
  std::size_t freed = 0;
  blocks[16] = blocks[3];  // a double free in the middle of the batch
  // blocks[3] merged with the free blocks[2] before it: it lies inside free
  // space, where the pool cannot tell a double free from a foreign address.
  EXPECT_EQ(pool->deallocate_batch(blocks.data(), 17, &freed), Status::kInvalidFree);
  EXPECT_EQ(freed, 16u);
  EXPECT_EQ(pool->stats().live_blocks, 0u);
  EXPECT_EQ(pool->validate(), Status::kOk);
}

// A fixed pool's batch is the algorithm's own: one chain, counted once.
TEST(ErasedPool, FixedPoolBatchesAreCountedWholeOrNotAtAll) {
  FixedPoolConfig config;
  config.block_size = 64;
  config.blocks_per_chunk = 8;
  config.max_blocks = 20;
  std::unique_ptr<FixedPool<ThreadSafety::kLockFree>> algorithm;
  ASSERT_EQ(FixedPool<ThreadSafety::kLockFree>::create(config, std::make_shared<MallocBackend>(), &algorithm),
            Status::kOk);
  PoolInfo info;
  info.block_size = 64;
  ErasedPool<FixedPool<ThreadSafety::kLockFree>> pool(std::move(algorithm), info);
  std::vector<void*> blocks(21, nullptr);
  ASSERT_EQ(pool.allocate_batch(64, 0, blocks.data(), 12), Status::kOk);
  const PoolStats before = pool.stats();
  EXPECT_EQ(before.allocations, 12u);
  EXPECT_EQ(before.peak_bytes_in_use, 12u * 64);
  EXPECT_EQ(pool.allocate_batch(64, 0, blocks.data() + 12, 9), Status::kOutOfPoolMemory);
  PoolStats stats = pool.stats();
  EXPECT_EQ(stats.allocations, before.allocations);
  EXPECT_EQ(stats.frees, before.frees);
  EXPECT_EQ(stats.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(stats.peak_bytes_in_use, before.peak_bytes_in_use);
  EXPECT_EQ(stats.failures, before.failures + 1);
  EXPECT_EQ(stats.reserved.bytes, before.reserved.bytes) << "no chunk grown for a refused batch";
  std::size_t freed = 0;
  blocks[12] = blocks[5];
  EXPECT_EQ(pool.deallocate_batch(blocks.data(), 13, &freed), Status::kDoubleFree);
  EXPECT_EQ(freed, 12u);
  stats = pool.stats();
  EXPECT_EQ(stats.frees, 12u);
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_EQ(pool.validate(), Status::kOk) << error_detail();
}

class ContendedStatistics : public ::testing::TestWithParam<int> {};

TEST_P(ContendedStatistics, CountersAreExactOnceThreadsAreDone) {
  auto pool = make_counted_pool<ThreadSafety::kMutex>();
  const int threads = GetParam();
  constexpr int kRounds = 20000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&pool, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      std::vector<void*> held;
      for (int i = 0; i < kRounds; ++i) {
        if (held.empty() || random() % 2 == 0) {
          void* block = nullptr;
          ASSERT_EQ(pool->allocate(1 + random() % 1000, 0, &block), Status::kOk);
          held.push_back(block);
        } else {
          ASSERT_EQ(pool->deallocate(held.back()), Status::kOk);
          held.pop_back();
        }
      }
      for (void* block : held) ASSERT_EQ(pool->deallocate(block), Status::kOk);
    });
  }
  for (auto& worker : workers) worker.join();
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, stats.frees);
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_GT(stats.peak_bytes_in_use, 0u);
  EXPECT_EQ(stats.fragmentation.free_bytes, stats.reserved.bytes);
  EXPECT_EQ(pool->validate(), Status::kOk);
  // Only arenas that are one free block go back, once the classes' kept
  // empty slabs have: so all of them, fully coalesced.
  EXPECT_EQ(pool->trim(), stats.reserved.bytes) << "fully coalesced";
}

INSTANTIATE_TEST_SUITE_P(TwoAndEightThreads, ContendedStatistics, ::testing::Values(2, 8));

}  // namespace
}  // namespace nativepool
