// SPDX-License-Identifier: Apache-2.0
// ThreadCachedVariablePool: the per-thread caches of a shared VariablePool's
// size classes. Exact accounting on one thread and across eight threads that
// free each other's blocks, every bad free refused at once (also of a block
// parked in another thread's cache), caches of ending threads given back,
// the pool destroyed while other threads' caches hold blocks, and which
// pools the factory caches.
#include "nativepool/variable_thread_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/safety/memory_hooks.hpp"
#include "size_classes.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;

// Built directly rather than by the factory, which leaves the caches out
// while a tool (ASan, memcheck) watches.
// Four shards whatever the machine, so that threads land on different ones.
std::unique_ptr<Pool> make_cached(std::size_t capacity = 16, std::size_t arena = 4 * kMiB, std::size_t shards = 4) {
  VariablePoolConfig config;
  config.arena_size = arena;
  config.thread_cache_blocks = capacity;
  std::unique_ptr<ShardedVariablePool> algorithm;
  EXPECT_EQ(ShardedVariablePool::create(config, shards, std::make_shared<MmapBackend>(), &algorithm), Status::kOk)
      << error_detail();
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(ThreadCachedVariablePool::create(std::move(algorithm), capacity, PoolInfo{}, &pool), Status::kOk)
      << error_detail();
  return pool;
}

std::uint64_t parked(const Pool& pool) {
  return dynamic_cast<const ThreadCachedVariablePool&>(pool).thread_cached_blocks();
}

// What holds whenever no thread is inside the pool: parked blocks are free
// blocks that only their thread hands out.
void expect_balanced(const PoolStats& stats) {
  EXPECT_EQ(stats.allocations - stats.frees, stats.live_blocks);
  EXPECT_EQ(stats.bytes_in_use + stats.fragmentation.free_bytes, stats.reserved.bytes);
  EXPECT_EQ(stats.cached_blocks, 0u);
  EXPECT_GE(stats.peak_bytes_in_use, stats.bytes_in_use);
}

TEST(ThreadCachedVariablePool, CountsExactlyOnOneThread) {
  auto pool = make_cached();
  std::vector<std::pair<void*, std::size_t>> blocks;
  std::size_t in_use = 0;
  for (std::size_t i = 0; i < 300; ++i) {
    // A tenth above the classes, a tenth in the classes above 1 KiB.
    const std::size_t size = i % 10 == 0 ? 5000 + i : i % 10 == 5 ? 1025 + i * 7 : 1 + (i * 37) % 1024;
    void* p = nullptr;
    ASSERT_EQ(pool->allocate(size, 0, &p), Status::kOk) << error_detail();
    std::memset(p, 0xab, size);
    blocks.emplace_back(p, size);
    in_use += testing_support::expected_block_size(size);
  }
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, 300u);
  EXPECT_EQ(stats.live_blocks, 300u);
  EXPECT_EQ(stats.bytes_in_use, in_use) << "exact in the sizes the user sees";
  EXPECT_EQ(stats.peak_bytes_in_use, in_use);
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  for (auto [p, size] : blocks) ASSERT_EQ(pool->deallocate(p), Status::kOk) << error_detail();
  stats = pool->stats();
  EXPECT_EQ(stats.frees, 300u);
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_EQ(stats.peak_bytes_in_use, in_use);
  EXPECT_GT(parked(*pool), 0u) << "small blocks wait in this thread's caches";
  EXPECT_LE(parked(*pool), 16u * 80) << "at most the capacity per class";
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  // Allocating again is served from the caches: the pool's own slabs see
  // no change, the counters do.
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(blocks.back().second, 0, &again), Status::kOk);
  EXPECT_EQ(pool->stats().bytes_in_use, (blocks.back().second + 15) / 16 * 16);
  ASSERT_EQ(pool->deallocate(again), Status::kOk);
  // trim() empties this thread's caches first, so every arena can go back.
  EXPECT_EQ(pool->trim(), stats.reserved.bytes);
  EXPECT_EQ(parked(*pool), 0u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST(ThreadCachedVariablePool, EveryBadFreeIsRefusedAtOnce) {
  auto pool = make_cached();
  void* a = nullptr;
  void* b = nullptr;
  void* big = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &a), Status::kOk);
  ASSERT_EQ(pool->allocate(64, 0, &b), Status::kOk);
  ASSERT_EQ(pool->allocate(5000, 0, &big), Status::kOk);
  ASSERT_EQ(pool->deallocate(a), Status::kOk);
  const PoolStats before = pool->stats();
  EXPECT_EQ(pool->deallocate(a), Status::kDoubleFree) << "a block parked in this thread's cache";
  EXPECT_NE(std::strstr(error_detail(), "parked in a thread cache"), nullptr) << error_detail();
  EXPECT_EQ(pool->deallocate(static_cast<char*>(b) + 8), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(static_cast<char*>(big) + 16), Status::kInvalidFree);
  int foreign = 0;
  EXPECT_EQ(pool->deallocate(&foreign), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(nullptr), Status::kInvalidFree);
  // The same from another thread, whose cache would take the block.
  std::thread other([&] {
    EXPECT_EQ(pool->deallocate(a), Status::kDoubleFree) << "a block parked in another thread's cache";
    EXPECT_EQ(pool->deallocate(static_cast<char*>(b) + 8), Status::kInvalidFree);
  });
  other.join();
  const PoolStats after = pool->stats();
  EXPECT_EQ(after.frees, before.frees) << "a refused free changes no counter";
  EXPECT_EQ(after.live_blocks, before.live_blocks);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  ASSERT_EQ(pool->deallocate(b), Status::kOk);
  ASSERT_EQ(pool->deallocate(big), Status::kOk);
  EXPECT_EQ(pool->deallocate(big), Status::kDoubleFree) << "a TLSF block freed twice";
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST(ThreadCachedVariablePool, BatchesBypassTheCaches) {
  auto pool = make_cached();
  std::vector<void*> blocks(40);
  ASSERT_EQ(pool->allocate_batch(100, 0, blocks.data(), blocks.size()), Status::kOk);
  EXPECT_EQ(parked(*pool), 0u);
  EXPECT_EQ(pool->stats().bytes_in_use, 40u * 112);
  // A parked block in a batch stops it there, as any refused address does.
  ASSERT_EQ(pool->deallocate(blocks[5]), Status::kOk);
  EXPECT_EQ(parked(*pool), 1u);
  std::size_t freed = 0;
  EXPECT_EQ(pool->deallocate_batch(blocks.data(), blocks.size(), &freed), Status::kDoubleFree);
  EXPECT_EQ(freed, 5u);
  ASSERT_EQ(pool->deallocate_batch(blocks.data() + 6, blocks.size() - 6, &freed), Status::kOk);
  EXPECT_EQ(freed, 34u);
  EXPECT_EQ(parked(*pool), 1u) << "the batch freed to the pool, never into a cache";
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.frees, 40u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

// A double free of a block its slab holds free, racing another thread that
// takes blocks of the same class (a cache's refill, a batch): the free's park
// claims the block's byte before it reads the free bit, so a take that
// cleared the bit meanwhile made the park see a live block and cache it,
// while the taker cached or handed out the same block. Every take now claims
// the byte first, so one of the two loses. Caches of 2 blocks and one shard,
// so that the taker's refills and drains (and its batches) run all the time
// over the very blocks the other thread frees again. A block cached twice
// shows in the end: drained twice, it leaves its slab's counts off (validate)
// and the frees above the allocations.
TEST(ThreadCachedVariablePool, ADoubleFreeRacingATakeCachesTheBlockOnceAtMost) {
  auto pool = make_cached(2, 4 * kMiB, 1);
  constexpr std::size_t kBlocks = 256;
  std::vector<void*> freed(kBlocks);
  for (void*& p : freed) ASSERT_EQ(pool->allocate(64, 0, &p), Status::kOk) << error_detail();
  for (void* p : freed) ASSERT_EQ(pool->deallocate(p), Status::kOk) << error_detail();
  std::atomic<bool> stop{false};
  std::thread taker([&] {
    std::vector<void*> mine(kBlocks);
    for (std::size_t round = 0; !stop.load(std::memory_order_relaxed); ++round) {
      if (round % 2 == 0) {
        for (void*& p : mine) ASSERT_EQ(pool->allocate(64, 0, &p), Status::kOk) << error_detail();
      } else {
        ASSERT_EQ(pool->allocate_batch(64, 0, mine.data(), mine.size()), Status::kOk) << error_detail();
      }
      // Refused when the other thread's free took this live block first: the
      // double free no allocator tells from a good one (the block was reused).
      for (void* p : mine) static_cast<void>(pool->deallocate(p));
    }
  });
  std::thread doubler([&] {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
    while (std::chrono::steady_clock::now() < end) {
      for (void* p : freed) static_cast<void>(pool->deallocate(p));
    }
  });
  doubler.join();
  stop = true;
  taker.join();
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0u) << "every block freed once, whoever freed it";
  EXPECT_EQ(stats.bytes_in_use, 0u);
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

// The eight-thread stress with cross-thread frees and the short-lived
// threads run through these caches in slab_classes_test.cpp.

TEST(ThreadCachedVariablePool, DestroyedOnAnotherThreadWhileCachesHoldBlocks) {
  auto pool = make_cached();
  std::barrier parked_all(5);
  std::barrier destroyed(5);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<void*> mine;
      for (std::size_t i = 0; i < 100; ++i) {
        void* p = nullptr;
        if (pool->allocate(16 + i % 7 * 48, 0, &p) == Status::kOk) mine.push_back(p);
      }
      for (void* p : mine) EXPECT_EQ(pool->deallocate(p), Status::kOk);
      parked_all.arrive_and_wait();
      destroyed.arrive_and_wait();
      // The thread ends with slots of a pool that is gone: skipped.
    });
  }
  parked_all.arrive_and_wait();
  EXPECT_GT(parked(*pool), 0u);
  pool.reset();
  destroyed.arrive_and_wait();
  for (std::thread& thread : threads) thread.join();
}

TEST(ThreadCachedVariablePoolFactory, CachesOnlyBareSharedUnboundedPoolsWithClasses) {
  const auto build = [](ThreadSafety mode, std::size_t capacity, std::size_t max, std::size_t slab_limit,
                        SafetyLevel safety, std::unique_ptr<Pool>* out) {
    VariablePoolConfig config;
    config.thread_cache_blocks = capacity;
    config.max_bytes = max;
    config.slab_limit = slab_limit;
    return make_variable_pool(config, mode, std::make_shared<MmapBackend>(), out, safety);
  };
  const auto cached = [](const Pool& pool) { return dynamic_cast<const ThreadCachedVariablePool*>(&pool) != nullptr; };
  EXPECT_EQ(VariablePoolConfig{}.thread_cache_blocks, 64u) << "on by default";
  const bool bare = !hooks::active();  // a watching tool gets the safety layers
  std::unique_ptr<Pool> pool;
  ASSERT_EQ(build(ThreadSafety::kMutex, 64, 0, 1024, SafetyLevel::kOff, &pool), Status::kOk);
  EXPECT_EQ(cached(*pool), bare) << "shared pools have caches";
  ASSERT_EQ(build(ThreadSafety::kMutex, 0, 0, 1024, SafetyLevel::kOff, &pool), Status::kOk);
  EXPECT_FALSE(cached(*pool)) << "0 turns it off";
  ASSERT_EQ(build(ThreadSafety::kNone, 64, 0, 1024, SafetyLevel::kOff, &pool), Status::kOk);
  EXPECT_FALSE(cached(*pool)) << "no contention to avoid";
  ASSERT_EQ(build(ThreadSafety::kMutex, 64, 64 * kMiB, 1024, SafetyLevel::kOff, &pool), Status::kOk);
  EXPECT_FALSE(cached(*pool)) << "a bounded pool must hand its last block to any thread";
  ASSERT_EQ(build(ThreadSafety::kMutex, 64, 0, 0, SafetyLevel::kOff, &pool), Status::kOk);
  EXPECT_FALSE(cached(*pool)) << "no size classes, nothing to cache";
  ASSERT_EQ(build(ThreadSafety::kMutex, 64, 0, 1024, SafetyLevel::kCanaries, &pool), Status::kOk);
  EXPECT_FALSE(cached(*pool)) << "the safety layers see every block";
  EXPECT_EQ(build(ThreadSafety::kMutex, 1, 0, 1024, SafetyLevel::kOff, &pool), Status::kInvalidArgument);
  EXPECT_NE(std::strstr(error_detail(), "a thread cache of 1 blocks is outside [2, 65536]"), nullptr)
      << error_detail();
  EXPECT_EQ(build(ThreadSafety::kMutex, kMaxThreadCacheBlocks + 1, 0, 1024, SafetyLevel::kOff, &pool),
            Status::kInvalidArgument);
}

}  // namespace
}  // namespace nativepool
