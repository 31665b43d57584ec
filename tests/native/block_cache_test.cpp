// SPDX-License-Identifier: Apache-2.0
// BlockCache: blocks come from and go back to the pool in batches, stats()
// counts parked blocks as cached (never live, never leaked), bad pointers are
// refused by the free itself (over a pool with safety layers: at drain,
// without losing the good ones), and caches on several threads share one
// pool.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <set>
#include <thread>
#include <vector>

#include "nativepool/block_cache.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/safety/memory_hooks.hpp"
#include "nativepool/snapshot.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kBlock = 64;

// SafetyLevel OFF: the pools whose state bytes the caches park in (with
// thread caches for kMutex and kLockFree, unless max_blocks is set).
std::unique_ptr<Pool> make_pool(ThreadSafety mode, std::size_t max_blocks = 0,
                                SafetyLevel safety = SafetyLevel::kOff) {
  FixedPoolConfig config;
  config.block_size = kBlock;
  config.max_blocks = max_blocks;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_fixed_pool(config, mode, std::make_shared<MallocBackend>(), &pool, safety), Status::kOk);
  return pool;
}

bool contains(const char* text, const std::string& part) { return std::string(text).find(part) != std::string::npos; }

std::unique_ptr<BlockCache> make_cache(Pool& pool, std::size_t capacity, FreeCheck check = FreeCheck::kAtomic) {
  std::unique_ptr<BlockCache> cache;
  EXPECT_EQ(BlockCache::create(pool, capacity, &cache, check), Status::kOk) << error_detail();
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

// Every kind of pool the factory makes at SafetyLevel OFF: bare, with thread
// caches, and kMutex with a maximum (no thread caches, so parking must first
// make it keep its chunk snapshots); and FreeCheck::kUncheckedRaces, which
// refuses every bad free that races with no other free of the block.
struct Shape {
  ThreadSafety mode;
  std::size_t max_blocks;
  FreeCheck check;
};

// How gtest prints a Shape; without it gtest dumps the struct's bytes,
// padding included, which memcheck reports as uninitialised.
void PrintTo(const Shape& shape, std::ostream* os) {
  *os << thread_safety_name(shape.mode) << ", max " << shape.max_blocks << " blocks"
      << (shape.check == FreeCheck::kUncheckedRaces ? ", unchecked races" : "");
}

class BlockCacheCheckTest : public ::testing::TestWithParam<Shape> {
 protected:
  // Where AddressSanitizer or Valgrind watches, the factory puts its memory
  // hooks over every pool; they must see each free, so no pool lends its
  // state per block and a cache parks unchecked, as over the safety layers
  // (the test after these covers that path).
  void SetUp() override {
    if (hooks::active()) GTEST_SKIP() << "a memory tool watches this process: caches park unchecked here";
  }
};

TEST_P(BlockCacheCheckTest, EveryBadFreeIsRefusedAtOnceAndChangesNothing) {
  const Shape shape = GetParam();  // a lambda below needs its check
  auto pool = make_pool(shape.mode, shape.max_blocks);
  ASSERT_NE(pool->parking(), nullptr);
  auto cache = make_cache(*pool, 8, shape.check);
  auto stranger = make_pool(shape.mode);
  void* block = nullptr;
  void* parked = nullptr;
  void* foreign = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
  ASSERT_EQ(cache->allocate(&parked), Status::kOk);
  ASSERT_EQ(cache->deallocate(parked), Status::kOk);
  ASSERT_EQ(stranger->allocate(kBlock, 0, &foreign), Status::kOk);
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  const PoolStats before = pool->stats();
  const std::size_t size = cache->size();
  EXPECT_EQ(cache->deallocate(block), Status::kDoubleFree) << "free in the pool";
  EXPECT_EQ(cache->deallocate(parked), Status::kDoubleFree) << "parked in this cache";
  EXPECT_TRUE(contains(error_detail(), "parked")) << error_detail();
  EXPECT_EQ(pool->deallocate(parked), Status::kDoubleFree) << "parked, freed to the pool";
  int on_stack = 0;
  EXPECT_EQ(cache->deallocate(&on_stack), Status::kInvalidFree);
  EXPECT_EQ(cache->deallocate(nullptr), Status::kInvalidFree);
  EXPECT_EQ(cache->deallocate(foreign), Status::kInvalidFree);
  EXPECT_EQ(cache->deallocate(static_cast<char*>(parked) + 8), Status::kInvalidFree);
  // Refused by another thread's cache too.
  std::thread([&] {
    auto other = make_cache(*pool, 4, shape.check);
    EXPECT_EQ(other->deallocate(parked), Status::kDoubleFree);
    EXPECT_EQ(other->size(), 0U);
  }).join();
  EXPECT_EQ(cache->size(), size) << "nothing parked";
  const PoolStats after = pool->stats();
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.live_blocks, before.live_blocks);
  EXPECT_EQ(after.cached_blocks, before.cached_blocks);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  // The parked block comes back once, and is freed once more.
  void* again = nullptr;
  ASSERT_EQ(cache->allocate(&again), Status::kOk);
  EXPECT_EQ(again, parked);
  EXPECT_EQ(cache->deallocate(again), Status::kOk);
  ASSERT_EQ(cache->flush(), Status::kOk);
  EXPECT_EQ(stranger->deallocate(foreign), Status::kOk);
  EXPECT_EQ(pool->stats().allocations, pool->stats().frees);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST_P(BlockCacheCheckTest, AFullCacheRefusesABadFreeBeforeDraining) {
  const auto [mode, max_blocks, check] = GetParam();
  auto pool = make_pool(mode, max_blocks);
  auto cache = make_cache(*pool, 4, check);
  std::vector<void*> blocks(5);
  for (auto& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
  for (std::size_t i = 0; i < 4; ++i) ASSERT_EQ(cache->deallocate(blocks[i]), Status::kOk);
  const std::uint64_t frees = pool->stats().frees;
  EXPECT_EQ(cache->deallocate(blocks[0]), Status::kDoubleFree);
  EXPECT_EQ(cache->size(), 4U) << "no drain for a refused free";
  EXPECT_EQ(pool->stats().frees, frees);
  ASSERT_EQ(cache->deallocate(blocks[4]), Status::kOk);  // drains two, parks it
  EXPECT_EQ(cache->size(), 3U);
  EXPECT_EQ(pool->stats().frees, frees + 2);
  EXPECT_EQ(cache->deallocate(blocks[4]), Status::kDoubleFree);
  ASSERT_EQ(cache->flush(), Status::kOk);
  EXPECT_EQ(pool->stats().live_blocks, 0U);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST_P(BlockCacheCheckTest, ParkedBlocksAreCachedInTheSnapshot) {
  const auto [mode, max_blocks, check] = GetParam();
  auto pool = make_pool(mode, max_blocks);
  auto cache = make_cache(*pool, 8, check);
  void* block = nullptr;
  ASSERT_EQ(cache->allocate(&block), Status::kOk);
  MemorySnapshot snapshot;
  ASSERT_EQ(pool->snapshot(&snapshot), Status::kOk);
  std::uint64_t live = 0;
  std::uint64_t cached = 0;
  for (const SnapshotRun& run : snapshot.runs) {
    live += run.state == BlockState::kLive ? run.count : 0;
    cached += run.state == BlockState::kCached ? run.count : 0;
  }
  EXPECT_EQ(live, 1U);
  EXPECT_EQ(cached, cache->size());
  ASSERT_EQ(cache->deallocate(block), Status::kOk);
}

INSTANTIATE_TEST_SUITE_P(Pools, BlockCacheCheckTest,
                         ::testing::Values(Shape{ThreadSafety::kNone, 0, FreeCheck::kAtomic},
                                           Shape{ThreadSafety::kMutex, 0, FreeCheck::kAtomic},
                                           Shape{ThreadSafety::kLockFree, 0, FreeCheck::kAtomic},
                                           Shape{ThreadSafety::kMutex, 1000, FreeCheck::kAtomic},
                                           Shape{ThreadSafety::kLockFree, 0, FreeCheck::kUncheckedRaces}));

// The safety layers must see every free, so the pool lends no parking and
// the cache parks unchecked: the pool refuses a bad pointer at the drain.
TEST(BlockCache, OverSafetyLayersADoubleFreeIsRefusedAtDrainAndTheOtherBlocksStillGoBack) {
  auto pool = make_pool(ThreadSafety::kNone, 0, SafetyLevel::kCanaries);
  ASSERT_EQ(pool->parking(), nullptr);
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

TEST(BlockCache, OverSafetyLayersAForeignPointerIsRefusedAtDrain) {
  auto pool = make_pool(ThreadSafety::kNone, 0, SafetyLevel::kCanaries);
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
