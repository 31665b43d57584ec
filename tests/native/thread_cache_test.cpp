// SPDX-License-Identifier: Apache-2.0
// ThreadCachedPool: the transparent per-thread caches of shared fixed pools.
// Exact accounting on one thread and across threads that free each other's
// blocks, every bad free refused at once, caches of ending threads given
// back, the pool destroyed while other threads' caches hold blocks.
#include "nativepool/thread_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <ostream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/safety/memory_hooks.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kBlock = 64;

template <ThreadSafety Mode>
std::unique_ptr<Pool> make_cached(const FixedPoolConfig& config) {
  std::unique_ptr<FixedPool<Mode>> algorithm;
  EXPECT_EQ(FixedPool<Mode>::create(config, std::make_shared<MallocBackend>(), &algorithm), Status::kOk);
  PoolInfo info;
  info.block_size = config.block_size;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(ThreadCachedPool<Mode>::create(std::move(algorithm), config.thread_cache_blocks, info, &pool,
                                           config.thread_cache_free_check),
            Status::kOk)
      << error_detail();
  return pool;
}

// A pool's thread safety and how its caches check frees: every test below
// holds for FreeCheck::kUncheckedRaces too, none of them racing two frees
// of one block.
struct Shape {
  ThreadSafety mode;
  FreeCheck check;
};

// How gtest prints a Shape; without it gtest dumps the struct's bytes,
// padding included, which memcheck reports as uninitialised.
void PrintTo(const Shape& shape, std::ostream* os) {
  *os << thread_safety_name(shape.mode) << (shape.check == FreeCheck::kUncheckedRaces ? ", unchecked races" : "");
}

// Built directly rather than by the factory, which leaves the caches out
// while a tool (ASan, memcheck) watches.
std::unique_ptr<Pool> make_pool(const Shape& shape, std::size_t capacity = 16, std::size_t blocks_per_chunk = 256) {
  FixedPoolConfig config;
  config.block_size = kBlock;
  config.blocks_per_chunk = blocks_per_chunk;
  config.thread_cache_blocks = capacity;
  config.thread_cache_free_check = shape.check;
  return shape.mode == ThreadSafety::kMutex ? make_cached<ThreadSafety::kMutex>(config)
                                            : make_cached<ThreadSafety::kLockFree>(config);
}

std::unique_ptr<Pool> make_factory_pool(ThreadSafety mode, std::size_t capacity,
                                        SafetyLevel safety = SafetyLevel::kOff, std::size_t max_blocks = 0) {
  FixedPoolConfig config;
  config.block_size = kBlock;
  config.max_blocks = max_blocks;
  config.thread_cache_blocks = capacity;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_fixed_pool(config, mode, std::make_shared<MallocBackend>(), &pool, safety), Status::kOk)
      << error_detail();
  return pool;
}

std::uint64_t parked(const Pool& pool) {
  if (const auto* mutex = dynamic_cast<const ThreadCachedPool<ThreadSafety::kMutex>*>(&pool)) {
    return mutex->thread_cached_blocks();
  }
  return dynamic_cast<const ThreadCachedPool<ThreadSafety::kLockFree>&>(pool).thread_cached_blocks();
}

bool is_cached(const Pool& pool) {
  return dynamic_cast<const ThreadCachedPool<ThreadSafety::kMutex>*>(&pool) != nullptr ||
         dynamic_cast<const ThreadCachedPool<ThreadSafety::kLockFree>*>(&pool) != nullptr;
}

// What holds whenever no thread is inside the pool.
void expect_balanced(const PoolStats& stats) {
  EXPECT_EQ(stats.allocations - stats.frees, stats.live_blocks + stats.cached_blocks);
  EXPECT_EQ(stats.bytes_in_use, stats.live_blocks * kBlock);
  EXPECT_EQ(stats.cached_bytes, stats.cached_blocks * kBlock);
  // Parked blocks are free blocks that only their thread hands out.
  EXPECT_EQ(stats.bytes_in_use + stats.cached_bytes + stats.fragmentation.free_bytes, stats.reserved.bytes);
  EXPECT_EQ(stats.cached_blocks, 0u) << "no explicit BlockCache here";
}

bool contains(const char* text, const std::string& part) { return std::string(text).find(part) != std::string::npos; }

class ThreadCachedPoolTest : public ::testing::TestWithParam<Shape> {
 protected:
  // Lifetimes and thread exit do not depend on how frees are checked: run
  // once per mode, not again for kUncheckedRaces (they are the slow tests).
  [[nodiscard]] bool check_plays_no_part() const { return GetParam().check != FreeCheck::kAtomic; }
};

TEST_P(ThreadCachedPoolTest, CountsExactlyOnOneThread) {
  auto pool = make_pool(GetParam());
  std::mt19937 random(3);
  std::vector<void*> held;
  std::uint64_t allocations = 0;
  std::uint64_t peak = 0;
  for (int step = 0; step < 20'000; ++step) {
    if (held.empty() || random() % 100 < 52) {
      void* block = nullptr;
      ASSERT_EQ(pool->allocate(1 + random() % kBlock, 0, &block), Status::kOk);
      held.push_back(block);
      ++allocations;
      peak = std::max<std::uint64_t>(peak, held.size());
    } else {
      std::swap(held[random() % held.size()], held.back());
      ASSERT_EQ(pool->deallocate(held.back()), Status::kOk);
      held.pop_back();
    }
  }
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, allocations);
  EXPECT_EQ(stats.frees, allocations - held.size());
  EXPECT_EQ(stats.live_blocks, held.size());
  EXPECT_EQ(stats.peak_bytes_in_use, peak * kBlock) << "one thread: the peak is exact";
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GT(parked(*pool), 0u);
  EXPECT_LE(parked(*pool), 16u);
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  for (void* block : held) ASSERT_EQ(pool->deallocate(block), Status::kOk);
  stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  expect_balanced(stats);
  // trim() empties the calling thread's cache, so every chunk goes back.
  EXPECT_EQ(pool->trim(), stats.reserved.bytes);
  EXPECT_EQ(parked(*pool), 0u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST_P(ThreadCachedPoolTest, EveryBadFreeIsRefusedAtOnce) {
  auto pool = make_pool(GetParam());
  auto stranger = make_pool(GetParam());
  void* block = nullptr;
  void* other = nullptr;
  void* foreign = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
  ASSERT_EQ(pool->allocate(kBlock, 0, &other), Status::kOk);
  ASSERT_EQ(stranger->allocate(kBlock, 0, &foreign), Status::kOk);
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  const PoolStats before = pool->stats();
  EXPECT_EQ(pool->deallocate(block), Status::kDoubleFree) << "a second free of a parked block";
  EXPECT_TRUE(contains(error_detail(), "parked in a thread cache")) << error_detail();
  int on_stack = 0;
  EXPECT_EQ(pool->deallocate(&on_stack), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(nullptr), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(static_cast<char*>(other) + 8), Status::kInvalidFree);
  EXPECT_TRUE(contains(error_detail(), "points 8 bytes into block")) << error_detail();
  EXPECT_EQ(pool->deallocate(foreign), Status::kInvalidFree);
  std::size_t freed = 9;
  EXPECT_EQ(pool->deallocate_batch(&block, 1, &freed), Status::kDoubleFree) << "parked, even for a batch";
  EXPECT_EQ(freed, 0u);
  // Refused on another thread too, whose cache has never seen the block.
  std::thread([&] { EXPECT_EQ(pool->deallocate(block), Status::kDoubleFree); }).join();
  const PoolStats after = pool->stats();
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.live_blocks, before.live_blocks);
  EXPECT_EQ(after.fragmentation.free_blocks, before.fragmentation.free_blocks);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  // The block comes back from the cache, and is freed once more.
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &again), Status::kOk);
  EXPECT_EQ(again, block);
  EXPECT_EQ(pool->deallocate(again), Status::kOk);
  EXPECT_EQ(pool->deallocate(other), Status::kOk);
  EXPECT_EQ(stranger->deallocate(foreign), Status::kOk);
  EXPECT_EQ(pool->allocate(kBlock + 1, 0, &again), Status::kInvalidArgument);
  EXPECT_EQ(pool->allocate(kBlock, 128, &again), Status::kInvalidArgument);
  EXPECT_EQ(pool->stats().failures, 2u);
}

TEST_P(ThreadCachedPoolTest, RefusedBatchMovesNoCounter) {
  auto pool = make_pool(GetParam());
  std::vector<void*> blocks(300, nullptr);
  ASSERT_EQ(pool->allocate_batch(kBlock, 0, blocks.data(), 100), Status::kOk);
  const PoolStats before = pool->stats();
  EXPECT_EQ(before.allocations, 100u);
  EXPECT_EQ(pool->allocate_batch(kBlock + 1, 0, blocks.data() + 100, 200), Status::kInvalidArgument);
  const PoolStats after = pool->stats();
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.peak_bytes_in_use, before.peak_bytes_in_use);
  EXPECT_EQ(after.reserved.bytes, before.reserved.bytes);
  EXPECT_EQ(after.failures, before.failures + 1);
  for (std::size_t i = 100; i < 300; ++i) EXPECT_EQ(blocks[i], nullptr);
  // Half freed one by one into the cache, the rest as a batch.
  for (std::size_t i = 0; i < 50; ++i) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
  std::size_t freed = 0;
  ASSERT_EQ(pool->deallocate_batch(blocks.data() + 50, 50, &freed), Status::kOk);
  EXPECT_EQ(freed, 50u);
  const PoolStats done = pool->stats();
  EXPECT_EQ(done.frees, 100u);
  EXPECT_EQ(done.live_blocks, 0u);
  expect_balanced(done);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

// Eight threads allocate, free their own blocks and each other's (through a
// shared hand-over list), and stamp every block they hold: a block in two
// hands shows as a clobbered stamp.
TEST_P(ThreadCachedPoolTest, EightThreadsFreeingEachOthersBlocksKeepExactAccounts) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 40'000;
  auto pool = make_pool(GetParam(), 64, 128);
  std::mutex hand_over_lock;
  std::vector<std::uint64_t*> hand_over;
  std::atomic<int> failures{0};
  std::atomic<std::uint64_t> allocations{0};
  std::barrier done(kThreads + 1);
  std::barrier go(kThreads + 1);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t) + 17);
      const auto stamp = static_cast<std::uint64_t>(t) + 1;
      std::vector<std::uint64_t*> held;
      const auto release = [&](std::uint64_t* block) {
        if (block[0] != stamp || block[7] != stamp) failures.fetch_add(1);
        block[0] = block[7] = 0;
        if (pool->deallocate(block) != Status::kOk) failures.fetch_add(1);
      };
      for (int round = 0; round < kRounds; ++round) {
        const auto dice = random() % 100;
        if (held.empty() || dice < 50) {
          void* raw = nullptr;
          if (pool->allocate(kBlock, 0, &raw) != Status::kOk) {
            failures.fetch_add(1);
            continue;
          }
          allocations.fetch_add(1, std::memory_order_relaxed);
          auto* block = static_cast<std::uint64_t*>(raw);
          block[0] = block[7] = stamp;
          held.push_back(block);
        } else if (dice < 75) {
          std::swap(held[random() % held.size()], held.back());
          release(held.back());
          held.pop_back();
        } else if (dice < 90) {
          // Hand a block to whichever thread frees next: unstamped, so that
          // its new owner may stamp it.
          std::uint64_t* block = held.back();
          held.pop_back();
          if (block[0] != stamp) failures.fetch_add(1);
          block[0] = block[7] = 0;
          std::lock_guard lock(hand_over_lock);
          hand_over.push_back(block);
        } else {
          std::uint64_t* block = nullptr;
          {
            std::lock_guard lock(hand_over_lock);
            if (!hand_over.empty()) {
              block = hand_over.back();
              hand_over.pop_back();
            }
          }
          if (block != nullptr) {
            if (block[0] != 0) failures.fetch_add(1);
            if (pool->deallocate(block) != Status::kOk) failures.fetch_add(1);
          }
        }
      }
      for (std::uint64_t* block : held) release(block);
      // Stay alive, caches full, while the main thread checks the accounts.
      done.arrive_and_wait();
      go.arrive_and_wait();
    });
  }
  done.arrive_and_wait();
  for (std::uint64_t* block : hand_over) ASSERT_EQ(pool->deallocate(block), Status::kOk);
  PoolStats stats = pool->stats();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats.allocations, allocations.load());
  EXPECT_EQ(stats.frees, stats.allocations);
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GT(parked(*pool), 0u);
  EXPECT_LE(parked(*pool), (kThreads + 1) * 64u);
  EXPECT_GE(stats.peak_bytes_in_use, kBlock);
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  go.arrive_and_wait();
  for (auto& worker : workers) worker.join();
  // The ended threads gave their caches back; only this thread's is left.
  stats = pool->stats();
  EXPECT_LE(parked(*pool), 64u);
  EXPECT_EQ(stats.frees, stats.allocations);
  expect_balanced(stats);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST_P(ThreadCachedPoolTest, DestroyedOnAnotherThreadWhileCachesHoldBlocks) {
  if (check_plays_no_part()) GTEST_SKIP() << "the free check plays no part here";
  constexpr int kThreads = 6;
  for (int round = 0; round < 20; ++round) {
    auto pool = make_pool(GetParam(), 32);
    std::barrier all_parked(kThreads + 1);
    std::barrier destroyed(kThreads + 1);
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&] {
        std::vector<void*> blocks(20);
        for (void*& block : blocks) {
          if (pool->allocate(kBlock, 0, &block) != Status::kOk) failures.fetch_add(1);
        }
        for (void* block : blocks) {
          if (pool->deallocate(block) != Status::kOk) failures.fetch_add(1);
        }
        all_parked.arrive_and_wait();
        destroyed.arrive_and_wait();
        // This thread's cache of the dead pool is never touched again, even
        // as a new pool comes and the thread ends.
        auto next = make_pool(GetParam(), 32);
        void* block = nullptr;
        if (next->allocate(kBlock, 0, &block) != Status::kOk) failures.fetch_add(1);
        if (next->deallocate(block) != Status::kOk) failures.fetch_add(1);
        if (next->stats().allocations != 1) failures.fetch_add(1);
      });
    }
    all_parked.arrive_and_wait();
    EXPECT_GE(parked(*pool), kThreads * 20u);
    std::thread([&pool] { pool.reset(); }).join();
    destroyed.arrive_and_wait();
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(failures.load(), 0);
  }
}

// Threads that each use the pool briefly and end: their caches go back as
// they end, so the pool stays the size a few concurrent threads need.
TEST_P(ThreadCachedPoolTest, TenThousandShortLivedThreadsDoNotGrowThePool) {
  if (check_plays_no_part()) GTEST_SKIP() << "the free check plays no part here";
  constexpr int kWave = 8;
  constexpr int kWaves = 1250;
  constexpr std::size_t kCapacity = 64;
  constexpr std::size_t kChunk = 256;
  auto pool = make_pool(GetParam(), kCapacity, kChunk);
  std::atomic<int> failures{0};
  for (int wave = 0; wave < kWaves; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kWave; ++t) {
      threads.emplace_back([&] {
        void* blocks[3];
        for (void*& block : blocks) {
          if (pool->allocate(kBlock, 0, &block) != Status::kOk) failures.fetch_add(1);
        }
        for (void* block : blocks) {
          if (pool->deallocate(block) != Status::kOk) failures.fetch_add(1);
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  const PoolStats stats = pool->stats();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats.allocations, 3u * kWave * kWaves);
  EXPECT_EQ(stats.frees, stats.allocations);
  EXPECT_EQ(parked(*pool), 0u) << "every ended thread gave its cache back";
  // At least one thread's three blocks; at most a whole wave's, however
  // many threads ended before: the peaks of ended threads never add up.
  EXPECT_GE(stats.peak_bytes_in_use, 3u * kBlock);
  EXPECT_LE(stats.peak_bytes_in_use, 3u * kWave * kBlock);
  // At most one wave's caches (half a capacity each, taken at the first
  // allocation) and its blocks are out at once: two chunks.
  const std::size_t bound = (kWave * (kCapacity / 2 + 3) + kChunk - 1) / kChunk * kChunk * kBlock;
  EXPECT_LE(stats.reserved.peak_bytes, bound);
  EXPECT_EQ(stats.fragmentation.free_bytes, stats.reserved.bytes);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

// More pools than the fast table has entries, and pools that come and go on
// a long-lived thread: each keeps its own cache and counts.
TEST_P(ThreadCachedPoolTest, ManyPoolsOnOneThread) {
  if (check_plays_no_part()) GTEST_SKIP() << "the free check plays no part here";
  std::vector<std::unique_ptr<Pool>> pools;
  for (int i = 0; i < 20; ++i) pools.push_back(make_pool(GetParam(), 8));
  for (int round = 0; round < 3; ++round) {
    for (auto& pool : pools) {
      void* block = nullptr;
      ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
      ASSERT_EQ(pool->deallocate(block), Status::kOk);
    }
  }
  for (auto& pool : pools) {
    const PoolStats stats = pool->stats();
    EXPECT_EQ(stats.allocations, 3u);
    EXPECT_EQ(parked(*pool), 4u) << "one refill of half the capacity";
    EXPECT_EQ(stats.fragmentation.free_blocks, stats.reserved.bytes / kBlock);
  }
  for (int i = 0; i < 2000; ++i) {
    auto pool = make_pool(GetParam(), 8);
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
    ASSERT_EQ(pool->deallocate(block), Status::kOk);
    ASSERT_EQ(pool->stats().allocations, 1u);
  }
  for (auto& pool : pools) EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

INSTANTIATE_TEST_SUITE_P(SharedModes, ThreadCachedPoolTest,
                         ::testing::Values(Shape{ThreadSafety::kMutex, FreeCheck::kAtomic},
                                           Shape{ThreadSafety::kLockFree, FreeCheck::kAtomic},
                                           Shape{ThreadSafety::kLockFree, FreeCheck::kUncheckedRaces}),
                         [](const auto& param) {
                           return std::string(thread_safety_name(param.param.mode)) +
                                  (param.param.check == FreeCheck::kUncheckedRaces ? "_unchecked_races" : "");
                         });

// The race FreeCheck::kAtomic is for, and kUncheckedRaces gives up: two
// threads free the same blocks at once, and exactly one free of each gets
// through.
TEST(ThreadCachedPoolAtomicCheck, TwoRacingFreesOfOneBlockLetExactlyOneThrough) {
  for (const ThreadSafety mode : {ThreadSafety::kMutex, ThreadSafety::kLockFree}) {
    auto pool = make_pool(Shape{mode, FreeCheck::kAtomic}, 4096);
    constexpr int kBlocks = 2000;
    std::vector<void*> blocks(kBlocks);
    for (auto& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
    std::atomic<int> accepted{0};
    std::barrier start(2);
    auto free_all = [&] {
      start.arrive_and_wait();
      for (void* block : blocks) accepted += pool->deallocate(block) == Status::kOk ? 1 : 0;
    };
    std::thread other(free_all);
    free_all();
    other.join();
    EXPECT_EQ(accepted.load(), kBlocks);
    EXPECT_EQ(pool->stats().frees, std::uint64_t{kBlocks});
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
}

TEST(ThreadCachedPoolFactory, CachesOnlyBareSharedUnboundedPools) {
  // The default config asks for caches.
  EXPECT_EQ(FixedPoolConfig{}.thread_cache_blocks, 64u);
  const auto parks = [](Pool& pool) {
    void* block = nullptr;
    EXPECT_EQ(pool.allocate(kBlock, 0, &block), Status::kOk);
    EXPECT_EQ(pool.deallocate(block), Status::kOk);
    return is_cached(pool) && parked(pool) != 0;
  };
  const bool bare = !hooks::active();  // a watching tool gets the safety layers
  EXPECT_EQ(parks(*make_factory_pool(ThreadSafety::kMutex, 16)), bare);
  EXPECT_EQ(parks(*make_factory_pool(ThreadSafety::kLockFree, 64)), bare);
  EXPECT_FALSE(parks(*make_factory_pool(ThreadSafety::kNone, 64)));
  EXPECT_FALSE(parks(*make_factory_pool(ThreadSafety::kLockFree, 0))) << "0: no caches";
  EXPECT_FALSE(parks(*make_factory_pool(ThreadSafety::kLockFree, 16, SafetyLevel::kCanaries)));
  EXPECT_FALSE(parks(*make_factory_pool(ThreadSafety::kLockFree, 16, SafetyLevel::kFull)));
  EXPECT_FALSE(parks(*make_factory_pool(ThreadSafety::kMutex, 16, SafetyLevel::kOff, 1000))) << "bounded";
  FixedPoolConfig config;
  config.block_size = kBlock;
  std::unique_ptr<Pool> pool;
  for (const std::size_t bad : {std::size_t{1}, kMaxThreadCacheBlocks + 1}) {
    config.thread_cache_blocks = bad;
    EXPECT_EQ(make_fixed_pool(config, ThreadSafety::kMutex, std::make_shared<MallocBackend>(), &pool),
              Status::kInvalidArgument);
    EXPECT_TRUE(contains(error_detail(), "thread cache of " + std::to_string(bad))) << error_detail();
    EXPECT_EQ(pool, nullptr);
  }
}

}  // namespace
}  // namespace nativepool
