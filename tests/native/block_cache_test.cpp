// SPDX-License-Identifier: Apache-2.0
// BlockCache: blocks come from and go back to the pool in batches, stats()
// counts parked blocks as cached (never live, never leaked), bad pointers are
// refused at drain without losing the good ones, and caches on several
// threads share one pool.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "nativepool/block_cache.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kBlock = 64;

std::unique_ptr<Pool> make_pool(ThreadSafety mode, std::size_t max_blocks = 0) {
  FixedPoolConfig config;
  config.block_size = kBlock;
  config.max_blocks = max_blocks;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_fixed_pool(config, mode, std::make_shared<MallocBackend>(), &pool), Status::kOk);
  return pool;
}

std::unique_ptr<BlockCache> make_cache(Pool& pool, std::size_t capacity) {
  std::unique_ptr<BlockCache> cache;
  EXPECT_EQ(BlockCache::create(pool, capacity, &cache), Status::kOk) << error_detail();
  return cache;
}

TEST(BlockCache, RefusesVariablePoolsAndTinyCapacities) {
  std::unique_ptr<Pool> variable;
  ASSERT_EQ(make_variable_pool(VariablePoolConfig{}, ThreadSafety::kNone, std::make_shared<MallocBackend>(), &variable),
            Status::kOk);
  std::unique_ptr<BlockCache> cache;
  EXPECT_EQ(BlockCache::create(*variable, 8, &cache), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("fixed-size"), std::string::npos);
  auto fixed = make_pool(ThreadSafety::kNone);
  EXPECT_EQ(BlockCache::create(*fixed, 1, &cache), Status::kInvalidArgument);
  EXPECT_EQ(cache, nullptr);
}

TEST(BlockCache, ParkedBlocksCountAsCachedNotLive) {
  auto pool = make_pool(ThreadSafety::kMutex);
  auto cache = make_cache(*pool, 8);
  void* block = nullptr;
  ASSERT_EQ(cache->allocate(&block), Status::kOk);
  // The refill took half the capacity: one block handed out, three parked.
  EXPECT_EQ(cache->size(), 3U);
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, 4U);
  EXPECT_EQ(stats.live_blocks, 1U);
  EXPECT_EQ(stats.cached_blocks, 3U);
  EXPECT_EQ(stats.bytes_in_use, kBlock);
  EXPECT_EQ(stats.cached_bytes, 3 * kBlock);
  ASSERT_EQ(cache->deallocate(block), Status::kOk);
  stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0U);
  EXPECT_EQ(stats.cached_blocks, 4U);
  EXPECT_EQ(stats.allocations - stats.frees, stats.live_blocks + stats.cached_blocks);
  cache.reset();
  stats = pool->stats();
  EXPECT_EQ(stats.cached_blocks, 0U);
  EXPECT_EQ(stats.frees, 4U);
  EXPECT_EQ(pool->validate(), Status::kOk);
}

TEST(BlockCache, ReusesParkedBlocksLastInFirstOut) {
  auto pool = make_pool(ThreadSafety::kNone);
  auto cache = make_cache(*pool, 16);
  void* first = nullptr;
  ASSERT_EQ(cache->allocate(&first), Status::kOk);
  ASSERT_EQ(cache->deallocate(first), Status::kOk);
  void* again = nullptr;
  ASSERT_EQ(cache->allocate(&again), Status::kOk);
  EXPECT_EQ(again, first);
  ASSERT_EQ(cache->deallocate(again), Status::kOk);
}

TEST(BlockCache, DrainsHalfWhenFullAndStaysExact) {
  auto pool = make_pool(ThreadSafety::kNone);
  auto cache = make_cache(*pool, 8);
  std::vector<void*> blocks(20);
  for (auto& block : blocks) ASSERT_EQ(cache->allocate(&block), Status::kOk);
  EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), blocks.size());
  for (void* block : blocks) {
    ASSERT_EQ(cache->deallocate(block), Status::kOk);
    EXPECT_LE(cache->size(), cache->capacity());
  }
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0U);
  EXPECT_EQ(stats.cached_blocks, cache->size());
  ASSERT_EQ(cache->flush(), Status::kOk);
  EXPECT_EQ(cache->size(), 0U);
  EXPECT_EQ(pool->stats().cached_blocks, 0U);
  EXPECT_EQ(pool->stats().allocations, pool->stats().frees);
}

TEST(BlockCache, ADoubleFreeIsRefusedAtDrainAndTheOtherBlocksStillGoBack) {
  auto pool = make_pool(ThreadSafety::kNone);
  auto cache = make_cache(*pool, 8);
  std::vector<void*> blocks(3);
  for (auto& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
  ASSERT_EQ(pool->deallocate(blocks[1]), Status::kOk);
  for (void* block : blocks) ASSERT_EQ(cache->deallocate(block), Status::kOk);  // parked unchecked
  EXPECT_EQ(cache->flush(), Status::kDoubleFree);
  EXPECT_NE(std::string(error_detail()).find("block cache drain"), std::string::npos);
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0U);
  EXPECT_EQ(stats.frees, 3U);
  EXPECT_EQ(pool->validate(), Status::kOk);
}

TEST(BlockCache, AForeignPointerIsRefusedAtDrain) {
  auto pool = make_pool(ThreadSafety::kNone);
  auto cache = make_cache(*pool, 4);
  int foreign = 0;
  ASSERT_EQ(cache->deallocate(&foreign), Status::kOk);
  EXPECT_EQ(cache->flush(), Status::kInvalidFree);
  EXPECT_EQ(pool->validate(), Status::kOk);
}

TEST(BlockCache, RefillFailureLeavesCacheAndPoolUnchanged) {
  auto pool = make_pool(ThreadSafety::kNone, 3);
  auto cache = make_cache(*pool, 8);  // a refill wants 4 blocks: more than exist
  void* block = nullptr;
  EXPECT_EQ(cache->allocate(&block), Status::kOutOfPoolMemory);
  EXPECT_EQ(cache->size(), 0U);
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0U);
  EXPECT_EQ(stats.allocations, stats.frees);  // the batch's blocks went back
  EXPECT_EQ(stats.failures, 1U);
}

TEST(BlockCache, DestroyingThePoolFirstDetachesItsCounters) {
  auto pool = make_pool(ThreadSafety::kNone);
  const Pool* address = pool.get();
  ParkedCounter* orphan = open_parked_counter(address);
  ASSERT_NE(orphan, nullptr);
  orphan->blocks = 5;
  pool.reset();
  EXPECT_EQ(parked_blocks(address), 0U);
  close_parked_counter(orphan);
}

TEST(BlockCache, CachesOnSeveralThreadsShareOnePoolAndFreeAcrossThreads) {
  for (ThreadSafety mode : {ThreadSafety::kMutex, ThreadSafety::kLockFree}) {
    auto pool = make_pool(mode);
    constexpr int kThreads = 4;
    constexpr int kRounds = 20000;
    std::vector<std::vector<void*>> handed(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto cache = make_cache(*pool, 32);
        std::vector<void*> live;
        for (int i = 0; i < kRounds; ++i) {
          void* block = nullptr;
          ASSERT_EQ(cache->allocate(&block), Status::kOk);
          live.push_back(block);
          if (live.size() > 40) {
            ASSERT_EQ(cache->deallocate(live.front()), Status::kOk);
            live.erase(live.begin());
          }
        }
        handed[t] = live;  // freed by another thread's cache below
      });
    }
    for (auto& thread : threads) thread.join();
    threads.clear();
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto cache = make_cache(*pool, 16);
        for (void* block : handed[(t + 1) % kThreads]) ASSERT_EQ(cache->deallocate(block), Status::kOk);
      });
    }
    for (auto& thread : threads) thread.join();
    const PoolStats stats = pool->stats();
    EXPECT_EQ(stats.live_blocks, 0U);
    EXPECT_EQ(stats.cached_blocks, 0U);
    EXPECT_EQ(stats.allocations, stats.frees);
    EXPECT_EQ(pool->validate(), Status::kOk);
  }
}

}  // namespace
}  // namespace nativepool
