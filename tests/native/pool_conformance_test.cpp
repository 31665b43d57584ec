// SPDX-License-Identifier: Apache-2.0
// The erased pools as make_fixed_pool()/make_variable_pool() build them (the
// layers JNI callers get: safety stack, statistics, thread caches), every
// kind and mode at every safety level over every backend of
// backend_cases.hpp: exact stats, fragmentation, refused frees, leak
// reports and trim() must not depend on where the regions come from.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "backend_cases.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

struct Kind {
  const char* name;
  bool fixed;
  ThreadSafety mode;
};

constexpr Kind kKinds[] = {{"fixed_none", true, ThreadSafety::kNone},
                           {"fixed_mutex", true, ThreadSafety::kMutex},
                           {"fixed_lock_free", true, ThreadSafety::kLockFree},
                           {"variable_none", false, ThreadSafety::kNone},
                           {"variable_mutex", false, ThreadSafety::kMutex}};

constexpr std::size_t kBlock = 256;
constexpr std::size_t kRegion = std::size_t{64} << 10;  // 256 fixed blocks, or one variable arena

class Conformance : public ::testing::TestWithParam<std::tuple<Kind, SafetyLevel, testing_backends::Source>> {
 protected:
  static const Kind& kind() { return std::get<0>(GetParam()); }
  static SafetyLevel level() { return std::get<1>(GetParam()); }

  static std::unique_ptr<Pool> make() {
    std::unique_ptr<Pool> pool;
    std::shared_ptr<Backend> backend = std::get<2>(GetParam()).make();
    if (kind().fixed) {
      FixedPoolConfig config;
      config.block_size = kBlock;
      config.blocks_per_chunk = kRegion / kBlock;
      config.thread_cache_blocks = 8;  // the shared pools at OFF get their caches, as JNI callers do
      EXPECT_EQ(make_fixed_pool(config, kind().mode, std::move(backend), &pool, level()), Status::kOk)
          << error_detail();
    } else {
      VariablePoolConfig config;
      config.arena_size = kRegion;
      EXPECT_EQ(make_variable_pool(config, kind().mode, std::move(backend), &pool, level()), Status::kOk)
          << error_detail();
    }
    return pool;
  }
};

INSTANTIATE_TEST_SUITE_P(
    Pools, Conformance,
    ::testing::Combine(::testing::ValuesIn(kKinds),
                       ::testing::Values(SafetyLevel::kOff, SafetyLevel::kCanaries, SafetyLevel::kFull),
                       ::testing::ValuesIn(testing_backends::kSources)),
    [](const auto& param_info) {
      return std::string(std::get<0>(param_info.param).name) + "_" + safety_level_name(std::get<1>(param_info.param)) +
             "_" + std::get<2>(param_info.param).name;
    });

TEST_P(Conformance, StatsAreExactInUserSizes) {
  auto pool = make();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->info().safety, level());
  std::vector<void*> blocks(300);  // more than one region's worth of fixed blocks
  for (void*& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk) << error_detail();
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.allocations, 300u);
  EXPECT_EQ(stats.live_blocks, 300u);
  EXPECT_EQ(stats.bytes_in_use, 300 * kBlock);
  EXPECT_EQ(stats.peak_bytes_in_use, 300 * kBlock);
  EXPECT_GE(stats.reserved.regions, 2u);
  for (std::size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
  stats = pool->stats();
  EXPECT_EQ(stats.frees, 150u);
  EXPECT_EQ(stats.live_blocks, 150u);
  EXPECT_EQ(stats.bytes_in_use, 150 * kBlock);
  EXPECT_EQ(pool->verify(), Status::kOk) << error_detail();
  for (std::size_t i = 1; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
  EXPECT_EQ(pool->stats().bytes_in_use, 0u);
}

TEST_P(Conformance, FragmentationIsReported) {
  auto pool = make();
  std::vector<void*> blocks(64);
  for (void*& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk) << error_detail();
  for (std::size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
  const Fragmentation f = pool->stats().fragmentation;
  EXPECT_GT(f.free_bytes, 0u);
  EXPECT_GE(f.free_bytes, f.largest_free_block);
  EXPECT_GE(f.largest_free_block, kBlock);
  if (kind().fixed) {
    EXPECT_EQ(f.external_fragmentation, 0.0);
  } else {
    EXPECT_GT(f.free_blocks, 1u) << "every other block freed leaves holes";
  }
  for (std::size_t i = 1; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i]), Status::kOk);
}

TEST_P(Conformance, RefusedFreesChangeNoCounter) {
  auto pool = make();
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk) << error_detail();
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  const PoolStats before = pool->stats();
  int foreign = 0;
  EXPECT_EQ(pool->deallocate(&foreign), Status::kInvalidFree);
  const PoolStats after = pool->stats();
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.reserved.bytes, before.reserved.bytes);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TEST_P(Conformance, LeakReportsAtFull) {
  auto pool = make();
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk) << error_detail();
  std::string report;
  ASSERT_EQ(pool->leak_report(&report), level() == SafetyLevel::kFull);
  if (level() == SafetyLevel::kFull) {
    EXPECT_NE(report.find("1 live block(s), 256 bytes"), std::string::npos) << report;
  }
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
}

TEST_P(Conformance, TrimGivesEveryEmptyRegionBack) {
  auto pool = make();
  std::vector<void*> blocks(600);
  for (void*& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk) << error_detail();
  for (void* block : blocks) ASSERT_EQ(pool->deallocate(block), Status::kOk);
  const PoolStats full = pool->stats();
  ASSERT_GE(full.reserved.regions, 2u);
  const std::size_t released = pool->trim();
  const PoolStats trimmed = pool->stats();
  EXPECT_EQ(released, full.reserved.bytes - trimmed.reserved.bytes);
  // Blocks parked in thread caches keep their region; everything else goes.
  if (trimmed.cached_blocks == 0) {
    EXPECT_EQ(trimmed.reserved.regions, 0u);
  }
  EXPECT_LT(trimmed.reserved.regions, full.reserved.regions);
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &again), Status::kOk) << error_detail();
  ASSERT_EQ(pool->deallocate(again), Status::kOk);
}

}  // namespace
}  // namespace nativepool
