// SPDX-License-Identifier: Apache-2.0
// ShardedVariablePool: threads spread over independent shards, every block
// freed at the shard that owns it (also from another thread, also for sizes
// above the size classes), exact figures over all shards, bad frees refused
// precisely wherever they point, and what create() refuses.
#include "nativepool/sharded_variable_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/variable_thread_cache.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

std::unique_ptr<ShardedVariablePool> make(std::size_t shards, std::size_t initial = 0) {
  VariablePoolConfig config;
  config.arena_size = 2 * kMiB;
  config.initial_bytes = initial;
  config.thread_cache_blocks = 16;
  std::unique_ptr<ShardedVariablePool> pool;
  EXPECT_EQ(ShardedVariablePool::create(config, shards, std::make_shared<MmapBackend>(), &pool), Status::kOk)
      << error_detail();
  return pool;
}

TEST(ShardedVariablePool, CreateRefusesWhatCannotBeSplit) {
  VariablePoolConfig config;
  std::unique_ptr<ShardedVariablePool> pool;
  config.max_bytes = 64 * kMiB;
  EXPECT_EQ(ShardedVariablePool::create(config, 2, std::make_shared<MmapBackend>(), &pool),
            Status::kInvalidArgument);
  EXPECT_NE(std::strstr(error_detail(), "max_bytes"), nullptr) << error_detail();
  config.max_bytes = 0;
  EXPECT_EQ(ShardedVariablePool::create(config, ShardedVariablePool::kMaxShards + 1, std::make_shared<MmapBackend>(),
                                        &pool),
            Status::kInvalidArgument);
  EXPECT_EQ(ShardedVariablePool::create(config, 2, nullptr, &pool), Status::kInvalidArgument);
  config.granularity = 24;  // not a power of two: the shard's own check
  EXPECT_EQ(ShardedVariablePool::create(config, 2, std::make_shared<MmapBackend>(), &pool),
            Status::kInvalidArgument);
  EXPECT_EQ(pool, nullptr);
  config.granularity = 16;
  ASSERT_EQ(ShardedVariablePool::create(config, 0, std::make_shared<MmapBackend>(), &pool), Status::kOk);
  EXPECT_GE(pool->shards(), 1u) << "0: one per hardware thread";
  EXPECT_LE(pool->shards(), ShardedVariablePool::kMaxShards);
}

TEST(ShardedVariablePool, OnlyTheFirstShardReservesTheInitialBytes) {
  auto pool = make(3, 4 * kMiB);
  EXPECT_EQ(pool->reservation().bytes, 4 * kMiB);
  EXPECT_EQ(pool->shard(0).reservation().bytes, 4 * kMiB);
  EXPECT_EQ(pool->shard(1).reservation().bytes, 0u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

// Each shard serves its own requests from its own regions; a block freed
// through the pool, from any thread, goes back to the shard that owns it,
// and the figures add up exactly.
TEST(ShardedVariablePool, BlocksGoBackToTheirOwnerFromAnyThread) {
  auto pool = make(4);
  std::vector<void*> blocks;
  std::size_t bytes = 0;
  for (std::size_t home = 0; home < 4; ++home) {
    for (std::size_t size : {16u, 200u, 1024u, 3000u, 70000u}) {  // slabs, TLSF, a dedicated arena's worth
      void* p = nullptr;
      ASSERT_EQ(pool->shard(home).allocate(size, 0, &p), Status::kOk) << error_detail();
      EXPECT_EQ(pool->owner(p), &pool->shard(home));
      EXPECT_EQ(pool->block_size(p), pool->shard(home).counted_size(size));
      std::memset(p, 0x5a, size);
      blocks.push_back(p);
      bytes += pool->shard(home).counted_size(size);
    }
  }
  std::uint64_t reserved = 0;
  for (std::size_t i = 0; i < 4; ++i) reserved += pool->shard(i).reservation().bytes;
  const Reservation all = pool->reservation();
  EXPECT_EQ(all.bytes, reserved) << "exact: the sum of the shards";
  EXPECT_EQ(all.regions, 4u);
  EXPECT_EQ(all.bytes - pool->fragmentation().free_bytes, bytes);
  MemorySnapshot snapshot;
  ASSERT_EQ(pool->snapshot(&snapshot), Status::kOk);
  EXPECT_EQ(snapshot.regions.size(), 4u) << "every shard's regions";
  for (std::size_t i = 1; i < snapshot.regions.size(); ++i) {
    EXPECT_LT(snapshot.regions[i - 1].base, snapshot.regions[i].base) << "in address order";
  }
  std::thread other([&] {
    for (void* p : blocks) {
      std::size_t freed = 0;
      EXPECT_EQ(pool->deallocate(p, &freed), Status::kOk) << error_detail();
    }
  });
  other.join();
  EXPECT_EQ(pool->fragmentation().free_bytes, pool->reservation().bytes) << "every block is free again";
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  EXPECT_EQ(pool->trim(), all.bytes);
  EXPECT_EQ(pool->reservation().bytes, 0u);
  EXPECT_EQ(pool->reservation().peak_bytes, all.bytes) << "the peak of the sum";
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST(ShardedVariablePool, BadFreesAreRefusedByTheShardTheyPointInto) {
  auto pool = make(2);
  void* small = nullptr;
  void* large = nullptr;
  ASSERT_EQ(pool->shard(1).allocate(64, 0, &small), Status::kOk);
  ASSERT_EQ(pool->shard(1).allocate(5000, 0, &large), Status::kOk);
  const Fragmentation before = pool->fragmentation();
  EXPECT_EQ(pool->deallocate(static_cast<char*>(small) + 8, nullptr), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(static_cast<char*>(large) + 16, nullptr), Status::kInvalidFree);
  int foreign = 0;
  EXPECT_EQ(pool->deallocate(&foreign, nullptr), Status::kInvalidFree) << "shard 0 judges what no shard owns";
  EXPECT_EQ(pool->owner(&foreign), nullptr);
  EXPECT_EQ(pool->block_size(&foreign), 0u);
  EXPECT_EQ(pool->fragmentation().free_bytes, before.free_bytes) << "a refused free changes nothing";
  ASSERT_EQ(pool->deallocate(small, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(small, nullptr), Status::kDoubleFree);
  ASSERT_EQ(pool->deallocate(large, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(large, nullptr), Status::kDoubleFree);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

// Parked blocks of several shards, released together: each goes back to
// its owner, in runs.
TEST(ShardedVariablePool, ParkedBlocksOfSeveralShardsGoBackToTheirOwners) {
  auto pool = make(3);
  std::size_t cls = 0;
  ASSERT_TRUE(pool->shard(0).cache_class(64, 0, &cls));
  std::vector<std::uint64_t> handles(30);
  for (std::size_t home = 0; home < 3; ++home) {
    ASSERT_EQ(pool->shard(home).take_parked(cls, handles.data() + home * 10, 10), 10u);
  }
  EXPECT_EQ(pool->validate_parked(30), Status::kOk) << error_detail();
  EXPECT_EQ(pool->validate_parked(29), Status::kCorrupted);
  // Interleave the shards, as a consumer's cache holds them.
  std::vector<std::uint64_t> mixed;
  for (std::size_t i = 0; i < 10; ++i) {
    for (std::size_t home = 0; home < 3; ++home) mixed.push_back(handles[home * 10 + i]);
  }
  // A block parked by another shard's thread is still found and claimed.
  void* p = pool->shard(2).unpark(mixed[0], cls);  // a handle unparks at any shard
  EXPECT_EQ(pool->owner(p), &pool->shard(0));
  std::uint64_t again = 0;
  std::size_t again_cls = 0;
  ShardedVariablePool::Shard* judge = nullptr;
  ASSERT_TRUE(pool->park(pool->shard(2), p, &again, &again_cls, &judge)) << "parked at its owner though home is 2";
  EXPECT_EQ(again_cls, cls);
  EXPECT_FALSE(pool->park(pool->shard(1), p, &again, &again_cls, &judge)) << "a parked block cannot be parked twice";
  EXPECT_EQ(judge, &pool->shard(0)) << "its owner judges the second free";
  mixed[0] = again;
  pool->release_parked(mixed.data(), mixed.size());
  EXPECT_EQ(pool->validate_parked(0), Status::kOk) << error_detail();
  EXPECT_EQ(pool->fragmentation().free_bytes, pool->reservation().bytes);
}

std::unique_ptr<Pool> make_factory_pool(std::size_t shards) {
  VariablePoolConfig config;
  config.shards = shards;
  config.arena_size = 2 * kMiB;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_variable_pool(config, ThreadSafety::kMutex, std::make_shared<MmapBackend>(), &pool,
                               SafetyLevel::kOff),
            Status::kOk);
  return pool;
}

// Through the factory: four threads at once get four shards.
TEST(ShardedVariablePool, TheFactorySpreadsThreadsOverShards) {
  std::unique_ptr<Pool> pool = make_factory_pool(4);
  const auto* cached = dynamic_cast<const ThreadCachedVariablePool*>(pool.get());
  if (cached == nullptr) GTEST_SKIP() << "a watching tool (ASan, memcheck) gets the safety layers, unsharded";
  EXPECT_EQ(cached->sharded().shards(), 4u);
  // One after another (two starting at the same instant may pick one
  // shard), all four staying until the last has its home.
  std::barrier all_in(4);
  std::atomic<int> turn{0};
  std::vector<std::thread> threads;
  std::vector<void*> blocks(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (turn.load() != t) std::this_thread::yield();
      EXPECT_EQ(pool->allocate(3000, 0, &blocks[t]), Status::kOk);
      turn.store(t + 1);
      all_in.arrive_and_wait();
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<const void*> owners;
  for (void* p : blocks) owners.insert(cached->sharded().owner(p));
  EXPECT_EQ(owners.size(), 4u) << "one shard each";
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(cached->sharded().threads_at(i), 0u) << "the threads ended";
  for (void* p : blocks) EXPECT_EQ(pool->deallocate(p), Status::kOk);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  VariablePoolConfig bounded;
  bounded.max_bytes = 64 * kMiB;
  ASSERT_EQ(make_variable_pool(bounded, ThreadSafety::kMutex, std::make_shared<MmapBackend>(), &pool,
                               SafetyLevel::kOff),
            Status::kOk);
  EXPECT_EQ(dynamic_cast<const ThreadCachedVariablePool*>(pool.get()), nullptr) << "a bounded pool: one shard, no caches";
}

// A thread that ends gives its home up: a long-lived thread and a stream of
// short-lived ones share two shards one each, where a round-robin would put
// every second short-lived thread beside the long-lived one.
TEST(ShardedVariablePool, EndedThreadsGiveTheirShardUp) {
  std::unique_ptr<Pool> pool = make_factory_pool(2);
  const auto* cached = dynamic_cast<const ThreadCachedVariablePool*>(pool.get());
  if (cached == nullptr) GTEST_SKIP() << "a watching tool (ASan, memcheck) gets the safety layers, unsharded";
  void* lasting = nullptr;
  ASSERT_EQ(pool->allocate(3000, 0, &lasting), Status::kOk);  // this thread stays
  const void* mine = cached->sharded().owner(lasting);
  for (int round = 0; round < 6; ++round) {
    std::thread brief([&] {
      void* p = nullptr;
      ASSERT_EQ(pool->allocate(3000, 0, &p), Status::kOk);
      EXPECT_NE(cached->sharded().owner(p), mine) << "round " << round << ": the other shard is free";
      EXPECT_EQ(pool->deallocate(p), Status::kOk);
    });
    brief.join();
  }
  std::uint32_t at_home = 0;
  for (std::size_t i = 0; i < 2; ++i) at_home += cached->sharded().threads_at(i);
  EXPECT_EQ(at_home, 1u) << "only this thread";
  EXPECT_EQ(pool->deallocate(lasting), Status::kOk);
}

}  // namespace
}  // namespace nativepool
