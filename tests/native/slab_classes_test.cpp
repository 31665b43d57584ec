// SPDX-License-Identifier: Apache-2.0
// The slab classes of a VariablePool (slab_classes.hpp): small sizes from
// slabs, exact figures, bad frees, the fall-backs to TLSF, and threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/variable_pool.hpp"
#include "nativepool/variable_thread_cache.hpp"

namespace nativepool {
namespace {

using detail::SlabClasses;
using Pool1 = VariablePool<ThreadSafety::kNone>;
constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;

VariablePoolConfig slab_config(std::size_t arena = kMiB, std::size_t max = 0, std::size_t limit = 4096) {
  VariablePoolConfig config;
  config.arena_size = arena;
  config.max_bytes = max;
  config.slab_limit = limit;
  return config;
}

template <class P = Pool1>
std::unique_ptr<P> make(const VariablePoolConfig& config) {
  std::unique_ptr<P> pool;
  EXPECT_EQ(P::create(config, std::make_shared<MmapBackend>(), &pool), Status::kOk) << error_detail();
  return pool;
}

std::uintptr_t slab_of(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) & ~(SlabClasses::kSlabBytes - 1);
}

// What the figures must satisfy with @p in_use bytes handed out.
template <class P>
void expect_balanced(const P& pool, std::size_t in_use) {
  EXPECT_EQ(pool.fragmentation().free_bytes + in_use, pool.reservation().bytes);
  EXPECT_EQ(pool.validate(), Status::kOk) << error_detail();
}

// Nothing in use: every byte is free, and once trim() has given back the
// one empty slab each class keeps, every arena is one free block and goes
// back too.
template <class P>
void expect_idle(P& pool) {
  EXPECT_EQ(pool.fragmentation().free_bytes, pool.reservation().bytes);
  EXPECT_EQ(pool.validate(), Status::kOk) << error_detail();
  pool.trim();
  EXPECT_EQ(pool.reservation().bytes, 0u) << "the emptied slabs went back to TLSF and merged";
  EXPECT_EQ(pool.validate(), Status::kOk) << error_detail();
}

void expect_idle(Pool& pool) {
  EXPECT_EQ(pool.stats().fragmentation.free_bytes, pool.stats().reserved.bytes);
  EXPECT_EQ(pool.validate(), Status::kOk) << error_detail();
  pool.trim();
  EXPECT_EQ(pool.stats().reserved.bytes, 0u) << "the emptied slabs went back to TLSF and merged";
}

TEST(SlabClasses, EverySmallSizeComesFromOneSlabPerClass) {
  auto pool = make(slab_config());
  for (std::size_t size = 16; size <= 1024; size += 16) {
    std::vector<void*> blocks(SlabClasses::kSlabBytes / size);
    for (void*& p : blocks) ASSERT_EQ(pool->allocate(size - 7, 0, &p), Status::kOk) << error_detail();
    std::set<std::uintptr_t> slabs;
    for (void* p : blocks) {
      slabs.insert(slab_of(p));
      EXPECT_EQ(pool->block_size(p), size);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % (size & (~size + 1)), 0u) << "natural alignment";
    }
    EXPECT_EQ(slabs.size(), 1u) << size << "-byte blocks fill exactly one slab";
    EXPECT_EQ(pool->fragmentation().free_bytes + blocks.size() * size, pool->reservation().bytes);
    expect_balanced(*pool, blocks.size() * size);
    for (void* p : blocks) ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
    expect_idle(*pool);
  }
}

TEST(SlabClasses, TheTailCountsAsFreeBytesInNoBlock) {
  auto pool = make(slab_config());
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(48, 0, &p), Status::kOk);
  const Fragmentation busy = pool->fragmentation();
  const std::size_t blocks = SlabClasses::kSlabBytes / 48;  // 1365, leaving 16 bytes
  expect_balanced(*pool, 48);  // so the tail is in the free bytes
  std::size_t freed = 0;
  ASSERT_EQ(pool->deallocate(p, &freed), Status::kOk);
  EXPECT_EQ(freed, 48u);
  EXPECT_GE(busy.free_blocks, blocks) << "the slab's other blocks, and TLSF's around the slab";
  expect_idle(*pool);
}

TEST(SlabClasses, BadFreesAreRefusedAndChangeNothing) {
  auto pool = make(slab_config());
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_EQ(pool->allocate(48, 0, &a), Status::kOk);
  ASSERT_EQ(pool->allocate(48, 0, &b), Status::kOk);
  const Fragmentation before = pool->fragmentation();
  auto* base = reinterpret_cast<char*>(slab_of(a));
  EXPECT_EQ(pool->deallocate(static_cast<char*>(a) + 8, nullptr), Status::kInvalidFree);
  EXPECT_NE(std::strstr(error_detail(), "points 8 bytes into the block"), nullptr) << error_detail();
  EXPECT_EQ(pool->deallocate(base + SlabClasses::kSlabBytes - 8, nullptr), Status::kInvalidFree);
  EXPECT_NE(std::strstr(error_detail(), "unused tail of a 48-byte slab"), nullptr) << error_detail();
  EXPECT_EQ(pool->deallocate(base + 48 * 100, nullptr), Status::kDoubleFree) << "a free block's start";
  EXPECT_EQ(pool->deallocate(base + 48 * 100 + 1, nullptr), Status::kInvalidFree);
  EXPECT_NE(std::strstr(error_detail(), "into the free block"), nullptr) << error_detail();
  EXPECT_EQ(pool->block_size(base + 48 * 100), 0u);
  EXPECT_EQ(pool->block_size(static_cast<char*>(a) + 8), 0u);
  const Fragmentation after = pool->fragmentation();
  EXPECT_EQ(after.free_bytes, before.free_bytes);
  EXPECT_EQ(after.free_blocks, before.free_blocks);
  ASSERT_EQ(pool->deallocate(a, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(a, nullptr), Status::kDoubleFree);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  ASSERT_EQ(pool->deallocate(b, nullptr), Status::kOk);
  // The class keeps its emptied slab, whose bitmap still knows the block.
  EXPECT_EQ(pool->deallocate(b, nullptr), Status::kDoubleFree);
  EXPECT_NE(std::strstr(error_detail(), "is already free"), nullptr) << error_detail();
  EXPECT_EQ(std::strstr(error_detail(), "gone back"), nullptr) << error_detail();
  // A second emptied slab of the class goes back to TLSF and merges, yet a
  // second free of one of its blocks is still told for the double free it
  // is; an address that was no block start is not.
  std::vector<void*> fill(SlabClasses::kSlabBytes / 48 + 2);  // the kept slab's blocks, two of a new slab
  for (void*& p : fill) ASSERT_EQ(pool->allocate(48, 0, &p), Status::kOk);
  // The kept slab's blocks freed first: it empties first and stays kept.
  const auto in_new = std::stable_partition(fill.begin(), fill.end(),
                                            [&](void* p) { return slab_of(p) == slab_of(a); });
  ASSERT_EQ(fill.end() - in_new, 2);
  void* c = std::max(in_new[0], in_new[1]);  // not the slab's first block, which TLSF would call free itself
  for (void* p : fill) ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(c, nullptr), Status::kDoubleFree);
  EXPECT_NE(std::strstr(error_detail(), "is already free (its slab has gone back to the arena)"), nullptr)
      << error_detail();
  EXPECT_EQ(pool->deallocate(static_cast<char*>(c) + 8, nullptr), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(a, nullptr), Status::kDoubleFree) << "the kept slab still judges its own blocks";
  // Once TLSF reuses the space, the address is judged by what is there now.
  void* reuse = nullptr;
  const std::size_t largest = pool->fragmentation().largest_free_block;
  ASSERT_EQ(pool->allocate(largest, 0, &reuse), Status::kOk) << error_detail();
  ASSERT_LE(reuse, c) << "the largest free block is the one the second slab merged into";
  ASSERT_LT(c, static_cast<char*>(reuse) + largest);
  EXPECT_EQ(pool->deallocate(c, nullptr), Status::kInvalidFree);
  ASSERT_EQ(pool->deallocate(reuse, nullptr), Status::kOk);
  expect_idle(*pool);
}

// The regression slabs brought, fixed: a class whose only live block comes
// and goes keeps its slab instead of carving and merging one per pair, and
// keeps no more than one.
TEST(SlabClasses, AClassKeepsOneEmptySlab) {
  auto pool = make(slab_config());
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &p), Status::kOk);
  const std::uintptr_t slab = slab_of(p);
  const Fragmentation busy = pool->fragmentation();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
    EXPECT_EQ(pool->fragmentation().free_bytes, pool->reservation().bytes);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
    ASSERT_EQ(pool->allocate(64, 0, &p), Status::kOk);
    EXPECT_EQ(slab_of(p), slab) << "the kept slab serves the next pair";
    EXPECT_EQ(pool->fragmentation().free_blocks, busy.free_blocks) << "no carve, no merge";
  }
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  const std::size_t tlsf_blocks = busy.free_blocks + 1 - SlabClasses::kSlabBytes / 64;
  // Two slabs' worth emptied: the second goes back and merges.
  std::vector<void*> blocks(SlabClasses::kSlabBytes / 64 + 1);
  for (void*& q : blocks) ASSERT_EQ(pool->allocate(64, 0, &q), Status::kOk);
  for (void* q : blocks) ASSERT_EQ(pool->deallocate(q, nullptr), Status::kOk);
  EXPECT_EQ(pool->fragmentation().free_blocks, tlsf_blocks + SlabClasses::kSlabBytes / 64) << "one slab kept";
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  expect_idle(*pool);
}

// A bounded pool gives the kept slabs back before it would refuse a request.
TEST(SlabClasses, KeptSlabsNeverMakeABoundedPoolRefuse) {
  auto pool = make(slab_config(kMiB, kMiB));
  for (std::size_t size = 16; size <= 8 * 16; size += 16) {
    void* p = nullptr;
    ASSERT_EQ(pool->allocate(size, 0, &p), Status::kOk);
    ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  }
  EXPECT_GE(pool->fragmentation().free_blocks, 8 * SlabClasses::kSlabBytes / 128) << "eight classes keep a slab";
  void* big = nullptr;
  ASSERT_EQ(pool->allocate(kMiB - 64 * kKiB, 0, &big), Status::kOk) << error_detail();
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  ASSERT_EQ(pool->deallocate(big, nullptr), Status::kOk);
  expect_idle(*pool);
}

TEST(SlabClasses, WhatSlabsCannotServeGoesToTlsf) {
  // A stricter alignment than the class's own.
  auto pool = make(slab_config());
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(48, 64, &p), Status::kOk);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
  EXPECT_EQ(pool->block_size(p), 48u);
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  // Above the limit, or with slabs off.
  for (const VariablePoolConfig& config : {slab_config(kMiB, 0, 256), slab_config(kMiB, 0, 0), slab_config(kMiB / 2)}) {
    auto tlsf_only = make(config);
    void* q = nullptr;
    ASSERT_EQ(tlsf_only->allocate(512, 0, &q), Status::kOk);
    EXPECT_EQ(tlsf_only->fragmentation().free_blocks, 1u) << "one TLSF block cut from the arena, no slab";
    ASSERT_EQ(tlsf_only->deallocate(q, nullptr), Status::kOk);
    expect_idle(*tlsf_only);
  }
  // A pool at its maximum cannot carve a slab, but TLSF still fits the block.
  auto full = make(slab_config(kMiB, kMiB));
  void* big = nullptr;
  ASSERT_EQ(full->allocate(kMiB - 32 * kKiB, 0, &big), Status::kOk);
  void* small = nullptr;
  ASSERT_EQ(full->allocate(16, 0, &small), Status::kOk) << error_detail();
  EXPECT_EQ(full->block_size(small), 16u);
  expect_balanced(*full, kMiB - 32 * kKiB + 16);
  ASSERT_EQ(full->deallocate(small, nullptr), Status::kOk);
  ASSERT_EQ(full->deallocate(big, nullptr), Status::kOk);
  expect_idle(*full);
}

TEST(SlabClasses, ConfigLimit) {
  std::unique_ptr<Pool1> pool;
  EXPECT_EQ(Pool1::create(slab_config(kMiB, 0, 8192), std::make_shared<MmapBackend>(), &pool),
            Status::kInvalidArgument);
  EXPECT_STREQ(error_detail(), "variable pool: slab_limit 8192 exceeds 4096 (0: no slabs)");
}

// Above 1 KiB a class every eighth of a doubling: a request gets its class's
// block from a slab, and from TLSF at the same size where the slab cannot
// serve it, so the block is counted_size() bytes either way.
TEST(SlabClasses, AboveOneKiBClassesAreEightToADoubling) {
  std::vector<std::size_t> classes;
  for (std::size_t size = 1152; size <= 2048; size += 128) classes.push_back(size);
  for (std::size_t size = 2304; size <= 4096; size += 256) classes.push_back(size);
  std::size_t below = 1024;
  for (const std::size_t size : classes) {
    auto pool = make(slab_config());
    for (const std::size_t request : {below + 1, size}) {
      EXPECT_EQ(pool->counted_size(request), size) << request;
      void* p = nullptr;
      ASSERT_EQ(pool->allocate(request, 0, &p), Status::kOk) << error_detail();
      EXPECT_EQ(pool->block_size(p), size) << request;
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % (size & (~size + 1)), 0u) << "natural alignment";
      EXPECT_GE(pool->fragmentation().free_blocks, SlabClasses::kSlabBytes / size - 1) << "a slab's blocks";
      expect_balanced(*pool, size);
      std::size_t freed = 0;
      ASSERT_EQ(pool->deallocate(p, &freed), Status::kOk);
      EXPECT_EQ(freed, size);
    }
    // A stricter alignment than the class's: TLSF, at the class's size.
    void* aligned = nullptr;
    ASSERT_EQ(pool->allocate(below + 1, 4096, &aligned), Status::kOk) << error_detail();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 4096, 0u);
    EXPECT_EQ(pool->block_size(aligned), size);
    expect_balanced(*pool, size);
    ASSERT_EQ(pool->deallocate(aligned, nullptr), Status::kOk);
    expect_idle(*pool);
    below = size;
  }
  // Above the largest class: TLSF at the granularity.
  auto pool = make(slab_config());
  EXPECT_EQ(pool->counted_size(4097), 4112u);
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(4097, 0, &p), Status::kOk);
  EXPECT_EQ(pool->block_size(p), 4112u);
  EXPECT_EQ(pool->fragmentation().free_blocks, 1u) << "one TLSF block cut from the arena, no slab";
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  expect_idle(*pool);
}

// The largest class not above the limit is the last; a coarse granularity
// keeps its own step where it is wider than an eighth of a doubling.
TEST(SlabClasses, TheLimitAndTheGranularityShapeTheClasses) {
  auto limited = make(slab_config(kMiB, 0, 3000));  // classes ..., 2560, 2816
  EXPECT_EQ(limited->counted_size(2700), 2816u);
  EXPECT_EQ(limited->counted_size(2817), 2832u) << "above the last class: the granularity";
  EXPECT_EQ(limited->cache_classes(), 64u + 8 + 3);
  VariablePoolConfig coarse = slab_config();
  coarse.granularity = 256;
  auto pool = make(coarse);
  EXPECT_EQ(pool->cache_classes(), 16u) << "every multiple of 256 up to 4 KiB";
  EXPECT_EQ(pool->counted_size(1100), 1280u);
  EXPECT_EQ(pool->counted_size(3000), 3072u);
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(3000, 0, &p), Status::kOk);
  EXPECT_EQ(pool->block_size(p), 3072u);
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  expect_idle(*pool);
  EXPECT_EQ(make(slab_config())->cache_classes(), 80u);
}

// Random sizes and alignments on both sides of the limit, freed in random
// order: every figure balances throughout and the pool ends coalesced.
TEST(SlabClasses, RandomMixKeepsEveryFigure) {
  auto pool = make(slab_config(2 * kMiB));
  std::mt19937 rng(7);
  std::vector<std::pair<void*, std::size_t>> live;
  std::size_t in_use = 0;
  for (int i = 0; i < 40000; ++i) {
    if (live.empty() || rng() % 5 < 3) {
      const std::size_t size = rng() % 8 == 0 ? 1 + rng() % (8 * kKiB) : 1 + rng() % 1100;
      const std::size_t alignment = rng() % 6 == 0 ? std::size_t{1} << (rng() % 9) : 0;
      void* p = nullptr;
      ASSERT_EQ(pool->allocate(size, alignment, &p), Status::kOk) << error_detail();
      ASSERT_EQ(pool->block_size(p), pool->counted_size(size));
      live.emplace_back(p, pool->counted_size(size));
      in_use += pool->counted_size(size);
    } else {
      const std::size_t at = rng() % live.size();
      std::size_t freed = 0;
      ASSERT_EQ(pool->deallocate(live[at].first, &freed), Status::kOk) << error_detail();
      ASSERT_EQ(freed, live[at].second);
      in_use -= freed;
      live[at] = live.back();
      live.pop_back();
    }
    if (i % 2000 == 0) {
      expect_balanced(*pool, in_use);
    }
  }
  std::shuffle(live.begin(), live.end(), rng);
  for (auto [p, size] : live) ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  expect_idle(*pool);
}

// The shared pool with thread caches of GetParam() blocks per class (the
// factory's, variable_thread_cache.hpp), and without (0).
class SlabClassesStress : public ::testing::TestWithParam<std::size_t> {
 protected:
  std::unique_ptr<Pool> make_shared_pool(std::size_t arena) {
    VariablePoolConfig config = slab_config(arena);
    config.thread_cache_blocks = GetParam();
    config.shards = 4;  // more than the CI machine's cores: threads share shards and free across them
    std::unique_ptr<Pool> pool;
    EXPECT_EQ(make_variable_pool(config, ThreadSafety::kMutex, std::make_shared<MmapBackend>(), &pool),
              Status::kOk)
        << error_detail();
    return pool;
  }
};

std::uint64_t parked(const Pool& pool) {
  const auto* cached = dynamic_cast<const ThreadCachedVariablePool*>(&pool);
  return cached != nullptr ? cached->thread_cached_blocks() : 0;
}

// Eight threads allocate mixed sizes, hand a third of their blocks to a
// neighbour to free, check every byte they wrote, and count what they
// allocated and freed, and how many bytes: the totals and the pool's own
// figures must agree exactly once they are done.
TEST_P(SlabClassesStress, EightThreadsWithCrossThreadFreesKeepExactAccounts) {
  constexpr int kThreads = 8;
  std::unique_ptr<Pool> pool = make_shared_pool(4 * kMiB);
  struct Mailbox {
    std::mutex mutex;
    std::vector<std::pair<unsigned char*, std::size_t>> blocks;
  };
  std::vector<Mailbox> mail(kThreads);
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> allocated{0};
  std::atomic<std::uint64_t> freed{0};
  std::atomic<std::int64_t> bytes{0};
  const auto counted = [](std::size_t size) { return static_cast<std::int64_t>((size + 15) / 16 * 16); };
  const auto release = [&](unsigned char* p, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      if (p[i] != static_cast<unsigned char>(size)) {
        errors.fetch_add(1);
        break;
      }
    }
    if (pool->deallocate(p) != Status::kOk) errors.fetch_add(1);
    freed.fetch_add(1);
    bytes.fetch_sub(counted(size));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<std::uint32_t>(t + 1));
      std::vector<std::pair<unsigned char*, std::size_t>> mine;
      for (int i = 0; i < 30000; ++i) {
        if (mine.size() < 200 && rng() % 2 == 0) {
          const std::size_t size = rng() % 8 == 0 ? 1 + rng() % (16 * kKiB) : 1 + rng() % 1024;
          void* p = nullptr;
          if (pool->allocate(size, rng() % 8 == 0 ? 64 : 0, &p) != Status::kOk) {
            errors.fetch_add(1);
            continue;
          }
          std::memset(p, static_cast<unsigned char>(size), size);
          allocated.fetch_add(1);
          bytes.fetch_add(counted(size));
          mine.emplace_back(static_cast<unsigned char*>(p), size);
        } else if (!mine.empty()) {
          const std::size_t at = rng() % mine.size();
          const auto block = mine[at];
          mine[at] = mine.back();
          mine.pop_back();
          if (rng() % 3 == 0) {
            Mailbox& next = mail[(t + 1) % kThreads];
            std::lock_guard lock(next.mutex);
            next.blocks.push_back(block);
          } else {
            release(block.first, block.second);
          }
        }
        if (i % 64 == 0) {
          std::vector<std::pair<unsigned char*, std::size_t>> inbox;
          {
            std::lock_guard lock(mail[t].mutex);
            inbox.swap(mail[t].blocks);
          }
          for (auto [p, size] : inbox) release(p, size);
        }
      }
      for (auto [p, size] : mine) release(p, size);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (Mailbox& box : mail) {
    for (auto [p, size] : box.blocks) release(p, size);
  }
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(bytes.load(), 0);
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, allocated.load());
  EXPECT_EQ(stats.frees, freed.load());
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_GT(stats.peak_bytes_in_use, 0u);
  // Blocks parked in this thread's caches (it freed the mailboxes' last
  // blocks) count as free; the ended threads' caches went back.
  EXPECT_EQ(stats.fragmentation.free_bytes, stats.reserved.bytes);
  EXPECT_LE(parked(*pool), GetParam() * 64);
  expect_idle(*pool);
  EXPECT_EQ(parked(*pool), 0u) << "trim() emptied this thread's caches first";
}

// Threads that come and go, each leaving nothing live, do not make the pool
// grow: emptied slabs go back and the caches of ended threads too, so 2000
// threads need no more than the 8 at a time do (a slab or two per class in
// use at once, 64 classes, and the holes their alignment leaves: 8 MiB),
// in each shard that the caches spread threads over.
TEST_P(SlabClassesStress, ShortLivedThreadsDoNotGrowThePool) {
  std::unique_ptr<Pool> pool = make_shared_pool(kMiB);
  std::atomic<std::uint64_t> errors{0};
  for (int round = 0; round < 250; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::vector<void*> mine;
        for (std::size_t i = 0; i < 32; ++i) {
          void* p = nullptr;
          if (pool->allocate(16 * (1 + (i * 7 + static_cast<std::size_t>(t)) % 64), 0, &p) != Status::kOk) {
            errors.fetch_add(1);
          } else {
            mine.push_back(p);
          }
        }
        for (void* p : mine) {
          if (pool->deallocate(p) != Status::kOk) errors.fetch_add(1);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(parked(*pool), 0u) << "round " << round << ": the ended threads' caches went back";
  }
  EXPECT_EQ(errors.load(), 0u);
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, 250u * 8 * 32);
  EXPECT_EQ(stats.live_blocks, 0u);
  const auto* cached = dynamic_cast<const ThreadCachedVariablePool*>(pool.get());
  const std::size_t shards = cached != nullptr ? cached->sharded().shards() : 1;
  EXPECT_LE(stats.reserved.peak_bytes, shards * 8 * kMiB) << "2000 threads in all, 8 at a time, " << shards << " shards";
  expect_idle(*pool);
}

INSTANTIATE_TEST_SUITE_P(ThreadCaches, SlabClassesStress, ::testing::Values(std::size_t{0}, std::size_t{32}),
                         [](const auto& param) { return "capacity" + std::to_string(param.param); });

}  // namespace
}  // namespace nativepool
