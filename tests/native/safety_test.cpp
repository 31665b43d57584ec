// SPDX-License-Identifier: Apache-2.0
// The safety layers over a real algorithm: each planted bug must be reported
// with the right guard, block, size and site, and must leave the pool usable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "backend_cases.hpp"
#include "nativepool/safety/allocation_site.hpp"
#include "nativepool/safety/corruption.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/safety/memory_hooks.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/safety/safety_stack.hpp"
#include "nativepool/variable_pool.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kArena = std::size_t{1} << 20;

std::unique_ptr<Pool> make_pool(SafetyLevel level, std::shared_ptr<Backend> backend, std::size_t max_bytes = 0) {
  SafetyPlan plan;
  EXPECT_EQ(SafetyPlan::make(level, *backend, &plan), Status::kOk) << error_detail();
  VariablePoolConfig config;
  config.arena_size = kArena;
  config.max_bytes = max_bytes;
  std::unique_ptr<VariablePool<ThreadSafety::kMutex>> algorithm;
  EXPECT_EQ(VariablePool<ThreadSafety::kMutex>::create(config, plan.backend(backend), &algorithm), Status::kOk)
      << error_detail();
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(plan.build(std::move(algorithm), config.granularity, PoolInfo{}, &pool), Status::kOk) << error_detail();
  return pool;
}

// Plants a bug behind the backs of memcheck and ASan, which would otherwise
// report it first (see planted_bugs.cpp for that): here the canary
// checks must find it on their own.
void scribble(unsigned char* p, unsigned char value) {
  hooks::full_access(p, 1);
  *p = value;
  hooks::no_access(p, 1);
}

unsigned char* allocate(Pool& pool, std::size_t size, std::size_t alignment = 0) {
  void* p = nullptr;
  EXPECT_EQ(pool.allocate(size, alignment, &p), Status::kOk) << error_detail();
  return static_cast<unsigned char*>(p);
}

// Every guarded level over every backend of backend_cases.hpp.
class GuardedLevels
    : public ::testing::TestWithParam<std::tuple<SafetyLevel, testing_backends::Source>> {
 protected:
  static SafetyLevel level() { return std::get<0>(GetParam()); }
  static std::shared_ptr<Backend> backend() { return std::get<1>(GetParam()).make(); }
};
INSTANTIATE_TEST_SUITE_P(Safety, GuardedLevels,
                         ::testing::Combine(::testing::Values(SafetyLevel::kCanaries, SafetyLevel::kFull),
                                            ::testing::ValuesIn(testing_backends::kSources)),
                         [](const auto& param_info) {
                           return std::string(safety_level_name(std::get<0>(param_info.param))) + "_" +
                                  std::get<1>(param_info.param).name;
                         });

TEST_P(GuardedLevels, OverflowIsReportedOnFreeAndTheBlockStaysAllocated) {
  auto pool = make_pool(level(), backend());
  unsigned char* block = allocate(*pool, 100);
  scribble(block + 100, 0);  // one byte past the end
  ASSERT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
  const CorruptionReport& report = last_corruption();
  EXPECT_EQ(report.guard, Guard::kBack);
  EXPECT_EQ(report.block, reinterpret_cast<std::uintptr_t>(block));
  EXPECT_EQ(report.size, 100U);
  EXPECT_EQ(report.offset, 100);
  EXPECT_NE(std::strstr(error_detail(), "back guard"), nullptr) << error_detail();
  EXPECT_EQ(pool->stats().live_blocks, 1U);
  EXPECT_EQ(pool->verify(), Status::kMemoryCorrupted);
  EXPECT_EQ(pool->validate(), Status::kOk) << "the algorithm itself is intact";
}

TEST_P(GuardedLevels, UnderflowIsReportedByVerify) {
  auto pool = make_pool(level(), backend());
  unsigned char* block = allocate(*pool, 64, 256);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 256, 0U);
  EXPECT_EQ(pool->verify(), Status::kOk);
  scribble(block - 3, 0x11);
  ASSERT_EQ(pool->verify(), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kFront);
  EXPECT_EQ(last_corruption().offset, -3);
}

TEST_P(GuardedLevels, WriteAfterFreeIsReportedOnReuseThenRepaired) {
  auto pool = make_pool(level(), backend());
  unsigned char* block = allocate(*pool, 256);
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  scribble(block + 10, 42);  // a dangling write
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(256, 0, &again), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kFreed);
  EXPECT_EQ(last_corruption().block, reinterpret_cast<std::uintptr_t>(block)) << "the address the user held";
  EXPECT_EQ(last_corruption().size, 256U);
  EXPECT_EQ(last_corruption().offset, 10);
  EXPECT_NE(std::strstr(error_detail(), "write after free"), nullptr) << error_detail();
  EXPECT_EQ(pool->stats().live_blocks, 0U);
  EXPECT_EQ(pool->allocate(256, 0, &again), Status::kOk) << "the poison was repaired";
  EXPECT_EQ(pool->deallocate(again), Status::kOk);
}

TEST_P(GuardedLevels, BadFreesAreDetectedAndChangeNothing) {
  auto pool = make_pool(level(), backend());
  unsigned char* block = allocate(*pool, 48);
  int local = 0;
  EXPECT_EQ(pool->deallocate(block + 8), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(block - 16), Status::kInvalidFree) << "the front guard is no block either";
  EXPECT_EQ(pool->deallocate(&local), Status::kInvalidFree);
  EXPECT_EQ(pool->stats().live_blocks, 1U);
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  EXPECT_EQ(pool->deallocate(block), Status::kDoubleFree);
  EXPECT_EQ(pool->verify(), Status::kOk);
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0U);
  EXPECT_EQ(stats.bytes_in_use, 0U);
}

TEST_P(GuardedLevels, CountsAlignmentAndCoalescingMatchTheUnguardedPool) {
  auto guarded = make_pool(level(), backend());
  auto plain = make_pool(SafetyLevel::kOff, backend());
  std::vector<void*> blocks;
  std::vector<void*> plain_blocks;
  for (std::size_t alignment : {0, 16, 64, 4096}) {
    for (std::size_t size : {1, 15, 16, 17, 1000, 70000}) {
      unsigned char* g = allocate(*guarded, size, alignment);
      unsigned char* p = allocate(*plain, size, alignment);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(g) % std::max<std::size_t>(alignment, 16), 0U);
      std::memset(g, 0x5A, size);  // the whole block is usable
      EXPECT_EQ(guarded->stats().bytes_in_use, plain->stats().bytes_in_use);
      blocks.push_back(g);
      plain_blocks.push_back(p);
    }
  }
  EXPECT_EQ(guarded->verify(), Status::kOk);
  for (void* b : blocks) {
    ASSERT_EQ(guarded->deallocate(b), Status::kOk) << error_detail();
  }
  for (void* p : plain_blocks) {
    ASSERT_EQ(plain->deallocate(p), Status::kOk) << error_detail();
  }
  const PoolStats stats = guarded->stats();
  EXPECT_EQ(stats.bytes_in_use, 0U);
  // trim() returns only arenas that are one free block (once the empty
  // slabs the classes keep have gone back): all of them.
  EXPECT_EQ(guarded->trim(), stats.reserved.bytes) << "everything merged back";
}

TEST_P(GuardedLevels, ThreadsSeeNoFalseReports) {
  auto pool = make_pool(level(), backend());
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t size = 1 + static_cast<std::size_t>((i * 37 + t) % 500);
        void* p = nullptr;
        ASSERT_EQ(pool->allocate(size, 0, &p), Status::kOk) << error_detail();
        std::memset(p, t, size);
        ASSERT_EQ(pool->deallocate(p), Status::kOk) << error_detail();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(pool->verify(), Status::kOk);
}

// Fixed pools get canaries through the factory, which widens their blocks.
TEST_P(GuardedLevels, OutOfMemoryQuotesTheSizeAskedFor) {
  // The pool's own maximum refuses, so no backend (nor ASan's malloc) sees the request.
  auto pool = make_pool(level(), backend(), 4 * kArena);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(2 * kArena, 0, &block), Status::kOk) << "an arena of its own";
  const std::size_t too_big = 8 * kArena;
  ASSERT_EQ(pool->allocate(too_big, 0, &block), Status::kOutOfPoolMemory);
  const std::string expected = "cannot allocate " + std::to_string(too_big) + " bytes (";
  EXPECT_EQ(std::string(error_detail()).rfind(expected, 0), 0U) << error_detail();
}

// A guarded block counts its size rounded to the granularity, never more
// than it spans from the user's address: with a front margin grown to a
// large alignment, the class the unguarded pool would count (3584 bytes for
// 3362) reaches into the next block, which memcheck and ASan would then
// mark freed along with this one. The next block stays whole and usable.
TEST_P(GuardedLevels, AnAlignedBlockCountsNoMoreThanItSpans) {
  auto pool = make_pool(level(), backend());
  void* aligned = nullptr;
  ASSERT_EQ(pool->allocate(3362, 1024, &aligned), Status::kOk) << error_detail();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 1024, 0U);
  auto* next = allocate(*pool, 5000);  // TLSF's next block, right after
  std::memset(next, 0x3C, 5000);
  EXPECT_EQ(pool->stats().bytes_in_use, 3376U + 5008U);
  ASSERT_EQ(pool->deallocate(aligned), Status::kOk);
  EXPECT_EQ(pool->stats().bytes_in_use, 5008U);
  for (std::size_t i = 0; i < 5000; ++i) ASSERT_EQ(next[i], 0x3C) << i;  // readable: not marked freed
  ASSERT_EQ(pool->deallocate(next), Status::kOk);
  EXPECT_EQ(pool->stats().bytes_in_use, 0U);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST_P(GuardedLevels, FreeSpaceIsWhatAUserCanAllocate) {
  FixedPoolConfig config;
  config.block_size = 64;
  config.blocks_per_chunk = 8;
  std::unique_ptr<Pool> fixed;
  ASSERT_EQ(make_fixed_pool(config, ThreadSafety::kMutex, backend(), &fixed, level()),
            Status::kOk)
      << error_detail();
  void* one = allocate(*fixed, 64);
  PoolStats stats = fixed->stats();
  EXPECT_EQ(stats.fragmentation.free_blocks, 7U);
  EXPECT_EQ(stats.fragmentation.largest_free_block, 64U) << "not the 96 bytes of the guarded stride";
  EXPECT_EQ(stats.fragmentation.free_bytes, 7U * 64);
  EXPECT_EQ(stats.fragmentation.external_fragmentation, 0.0);
  ASSERT_EQ(fixed->deallocate(one), Status::kOk);

  auto variable = make_pool(level(), backend());
  void* block = allocate(*variable, 5000);  // above the slabs: one TLSF block cut from the arena
  stats = variable->stats();
  ASSERT_EQ(stats.fragmentation.free_blocks, 1U);
  void* largest = nullptr;
  ASSERT_EQ(variable->allocate(stats.fragmentation.largest_free_block, 0, &largest), Status::kOk)
      << "the largest free block is a request that fits: " << error_detail();
  EXPECT_EQ(variable->stats().reserved.regions, stats.reserved.regions) << "without growing";
  EXPECT_EQ(variable->stats().fragmentation.free_bytes, 0U);
  ASSERT_EQ(variable->deallocate(largest), Status::kOk);
  ASSERT_EQ(variable->deallocate(block), Status::kOk);
}

TEST_P(GuardedLevels, FixedPoolsKeepBlockSizeAlignmentAndCounts) {
  for (ThreadSafety mode : {ThreadSafety::kNone, ThreadSafety::kMutex, ThreadSafety::kLockFree}) {
    FixedPoolConfig config;
    config.block_size = 100;
    config.alignment = 64;
    config.blocks_per_chunk = 8;
    std::unique_ptr<Pool> pool;
    std::unique_ptr<Pool> plain;
    ASSERT_EQ(make_fixed_pool(config, mode, backend(), &pool, level()), Status::kOk)
        << error_detail();
    ASSERT_EQ(make_fixed_pool(config, mode, backend(), &plain, SafetyLevel::kOff),
              Status::kOk);
    EXPECT_EQ(pool->info().block_size, 100U);
    EXPECT_EQ(pool->info().safety, level());
    std::vector<unsigned char*> blocks;
    for (int i = 0; i < 20; ++i) {
      unsigned char* block = allocate(*pool, 100);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 64, 0U);
      std::memset(block, i, 100);
      blocks.push_back(block);
      (void)allocate(*plain, 100);
    }
    EXPECT_EQ(pool->stats().bytes_in_use, plain->stats().bytes_in_use);
    scribble(blocks[3] + 100, 0);
    EXPECT_EQ(pool->deallocate(blocks[3]), Status::kMemoryCorrupted);
    EXPECT_EQ(last_corruption().guard, Guard::kBack);
    EXPECT_EQ(pool->deallocate(blocks[4] + 1), Status::kInvalidFree);
    ASSERT_EQ(pool->deallocate(blocks[5]), Status::kOk);
    EXPECT_EQ(pool->deallocate(blocks[5]), Status::kDoubleFree);
  }
}

// Leak tracking over every backend of backend_cases.hpp.
class Tracking : public ::testing::TestWithParam<testing_backends::Source> {
 protected:
  static std::shared_ptr<Backend> backend() { return GetParam().make(); }
};
INSTANTIATE_TEST_SUITE_P(Safety, Tracking, ::testing::ValuesIn(testing_backends::kSources),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_P(Tracking, FullPoolsNameTheAllocationSite) {
  auto pool = make_pool(SafetyLevel::kFull, backend());
  unsigned char* block;
  {
    ScopedAllocationSite site("parser: token buffer");
    block = allocate(*pool, 32);
  }
  scribble(block + 32, 1);
  ASSERT_EQ(pool->verify(), Status::kMemoryCorrupted);
  ASSERT_NE(last_corruption().site, nullptr);
  EXPECT_STREQ(last_corruption().site, "parser: token buffer");
  EXPECT_NE(std::strstr(error_detail(), "allocated at: parser: token buffer"), nullptr) << error_detail();
  ASSERT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
  EXPECT_STREQ(last_corruption().site, "parser: token buffer");
}

TEST_P(Tracking, LeakReportListsLiveBlocksWithSizeAndSite) {
  auto pool = make_pool(SafetyLevel::kFull, backend());
  set_allocation_site(intern_allocation_site(std::string("cache: ") + "entries"));
  void* a = allocate(*pool, 1000);
  set_allocation_site(nullptr);
  void* b = allocate(*pool, 24);
  std::string report;
  ASSERT_TRUE(pool->leak_report(&report));
  EXPECT_NE(report.find("2 live block(s), 1024 bytes"), std::string::npos) << report;
  EXPECT_NE(report.find("1000 bytes, allocated"), std::string::npos) << report;
  EXPECT_NE(report.find("at cache: entries"), std::string::npos) << report;
  EXPECT_NE(report.find("(no site set)"), std::string::npos) << report;
  ASSERT_EQ(pool->deallocate(a), Status::kOk);
  ASSERT_EQ(pool->deallocate(b), Status::kOk);
  report.clear();
  ASSERT_TRUE(pool->leak_report(&report));
  EXPECT_NE(report.find("0 live block(s)"), std::string::npos) << report;
}

TEST_P(Tracking, OnlyFullPoolsTrack) {
  std::string report;
  EXPECT_FALSE(make_pool(SafetyLevel::kOff, backend())->leak_report(&report));
  EXPECT_FALSE(make_pool(SafetyLevel::kCanaries, backend())->leak_report(&report));
}

// Device backends reach their memory through MemoryAccess (gpu_canaries_test
// covers them); one without it cannot have canaries.
TEST(SafetyPlan, CanariesNeedMemoryTheyCanReach) {
  struct DeviceBackend final : Backend {
    Status allocate(std::size_t, std::size_t, void**) noexcept override { return Status::kOutOfPoolMemory; }
    void deallocate(void*, std::size_t, std::size_t) noexcept override {}
    MemoryKind kind() const noexcept override { return MemoryKind::kDevice; }
    std::string_view name() const noexcept override { return "fake-device"; }
  } device;
  SafetyPlan plan;
  EXPECT_EQ(SafetyPlan::make(SafetyLevel::kOff, device, &plan), Status::kOk);
  EXPECT_EQ(SafetyPlan::make(SafetyLevel::kCanaries, device, &plan), Status::kFeatureUnavailable);
  EXPECT_NE(std::strstr(error_detail(), "fake-device"), nullptr) << error_detail();
  EXPECT_EQ(SafetyPlan::make(static_cast<SafetyLevel>(7), device, &plan), Status::kInvalidArgument);
}

TEST(SafetyPlan, OffOutsideToolsKeepsTheCallersBackend) {
  if (hooks::active()) GTEST_SKIP() << "a tool is watching: pools are wrapped on purpose";
  auto backend = std::make_shared<MallocBackend>();
  SafetyPlan plan;
  ASSERT_EQ(SafetyPlan::make(SafetyLevel::kOff, *backend, &plan), Status::kOk);
  EXPECT_EQ(plan.backend(backend), backend);
  EXPECT_EQ(plan.block_overhead(64), 0U);
  ASSERT_EQ(SafetyPlan::make(SafetyLevel::kCanaries, *backend, &plan), Status::kOk);
  EXPECT_NE(plan.backend(backend), backend);
  EXPECT_EQ(plan.block_overhead(64), 128U);
}

}  // namespace
}  // namespace nativepool
