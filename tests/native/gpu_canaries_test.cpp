// SPDX-License-Identifier: Apache-2.0
// Canaries over device memory: the guards are written with device fills and
// checked by copying them back, so the bugs planted here (by device copies,
// as a kernel would make them) must be reported exactly as on the host.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "nativepool/safety/allocation_site.hpp"
#include "nativepool/safety/canaries.hpp"
#include "nativepool/safety/corruption.hpp"
#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/device_manager.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool::gpu {
namespace {

class GpuCanariesTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (runtime_ == nullptr || IsSkipped()) return;
    ASSERT_EQ(runtime_->stream_create(0, &stream_), Status::kOk);
  }
  void TearDown() override {
    if (runtime_ == nullptr || IsSkipped()) return;
    runtime_->stream_destroy(stream_);
  }

  /// A manager of small pools at @p level; its device 0 pool in @p pool.
  std::unique_ptr<DeviceManager> manager(SafetyLevel level, StreamOrderedPool** pool) {
    DeviceManagerConfig config;
    config.arena_size = std::size_t{1} << 20;
    config.pinned_arena_size = std::size_t{1} << 20;
    config.safety = level;
    std::unique_ptr<DeviceManager> made;
    EXPECT_EQ(DeviceManager::create(runtime_, config, &made), Status::kOk) << error_detail();
    if (made != nullptr) {
      EXPECT_EQ(made->device_pool(0, pool), Status::kOk);
    }
    return made;
  }

  std::unique_ptr<Pool> variable_pool(SafetyLevel level) {
    VariablePoolConfig config;
    config.arena_size = std::size_t{1} << 20;
    config.granularity = 256;
    std::unique_ptr<Pool> pool;
    EXPECT_EQ(make_variable_pool(config, ThreadSafety::kMutex, std::make_shared<DeviceBackend>(runtime_, 0), &pool,
                                 level),
              Status::kOk)
        << error_detail();
    return pool;
  }

  unsigned char* allocate(Pool& pool, std::size_t size) {
    void* block = nullptr;
    EXPECT_EQ(pool.allocate(size, 0, &block), Status::kOk) << error_detail();
    return static_cast<unsigned char*>(block);
  }

  /// Writes @p bytes at device address @p at the way user work would: a copy
  /// on a stream, waited for.
  void device_write(unsigned char* at, std::vector<unsigned char> bytes) {
    ASSERT_EQ(runtime_->memcpy_async(at, bytes.data(), bytes.size(), CopyKind::kHostToDevice, stream_), Status::kOk);
    ASSERT_EQ(runtime_->stream_synchronize(stream_), Status::kOk);
  }

  std::vector<unsigned char> device_read(const unsigned char* at, std::size_t size) {
    std::vector<unsigned char> bytes(size);
    EXPECT_EQ(runtime_->memcpy_async(bytes.data(), at, size, CopyKind::kDeviceToHost, stream_), Status::kOk);
    EXPECT_EQ(runtime_->stream_synchronize(stream_), Status::kOk);
    return bytes;
  }

  Stream stream_{};
};

TEST_P(GpuCanariesTest, OverflowIsReportedOnFreeAndByVerify) {
  for (SafetyLevel level : {SafetyLevel::kCanaries, SafetyLevel::kFull}) {
    SCOPED_TRACE(safety_level_name(level));
    auto pool = variable_pool(level);
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->info().safety, level);
    unsigned char* block = allocate(*pool, 100);
    EXPECT_EQ(device_read(block + 100, 1)[0], kGuardByte) << "the back guard is set on the device";
    device_write(block + 100, {0});  // one byte past the end
    ASSERT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
    const CorruptionReport& report = last_corruption();
    EXPECT_EQ(report.guard, Guard::kBack);
    EXPECT_EQ(report.block, reinterpret_cast<std::uintptr_t>(block));
    EXPECT_EQ(report.size, 100U);
    EXPECT_EQ(report.offset, 100);
    EXPECT_NE(std::strstr(error_detail(), "back guard"), nullptr) << error_detail();
    EXPECT_EQ(pool->stats().live_blocks, 1U) << "a damaged block stays allocated";
    ASSERT_EQ(pool->verify(), Status::kMemoryCorrupted);
    EXPECT_EQ(last_corruption().guard, Guard::kBack);
    EXPECT_EQ(last_corruption().block, reinterpret_cast<std::uintptr_t>(block));
    EXPECT_EQ(pool->validate(), Status::kOk) << "the algorithm itself is intact";
  }
}

TEST_P(GpuCanariesTest, UnderflowIsReportedByVerify) {
  auto pool = variable_pool(SafetyLevel::kCanaries);
  unsigned char* block = allocate(*pool, 512);
  EXPECT_EQ(pool->verify(), Status::kOk);
  device_write(block - 3, {0x11});
  ASSERT_EQ(pool->verify(), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kFront);
  EXPECT_EQ(last_corruption().offset, -3);
  EXPECT_EQ(last_corruption().size, 512U);
  EXPECT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
}

TEST_P(GpuCanariesTest, WriteAfterFreeIsReportedOnReuseThenRepaired) {
  auto pool = variable_pool(SafetyLevel::kCanaries);
  unsigned char* block = allocate(*pool, 256);
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  EXPECT_EQ(device_read(block, 256), std::vector<unsigned char>(256, kPoisonByte)) << "freed memory is poisoned";
  device_write(block + 10, {42});  // a dangling write
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(256, 0, &again), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kFreed);
  EXPECT_EQ(last_corruption().block, reinterpret_cast<std::uintptr_t>(block));
  EXPECT_EQ(last_corruption().offset, 10);
  EXPECT_EQ(pool->stats().live_blocks, 0U);
  ASSERT_EQ(pool->allocate(256, 0, &again), Status::kOk) << "the poison was repaired";
  EXPECT_EQ(pool->deallocate(again), Status::kOk);
}

TEST_P(GpuCanariesTest, FullPoolsNameTheAllocationSiteAndTrackLiveBlocks) {
  auto pool = variable_pool(SafetyLevel::kFull);
  unsigned char* block;
  {
    ScopedAllocationSite site("tensor: activations");
    block = allocate(*pool, 1024);
  }
  std::string report;
  ASSERT_TRUE(pool->leak_report(&report));
  EXPECT_NE(report.find("1 live block(s), 1024 bytes"), std::string::npos) << report;
  EXPECT_NE(report.find("at tensor: activations"), std::string::npos) << report;
  device_write(block + 1024, {7, 7});
  ASSERT_EQ(pool->verify(), Status::kMemoryCorrupted);
  ASSERT_NE(last_corruption().site, nullptr);
  EXPECT_STREQ(last_corruption().site, "tensor: activations");
  EXPECT_NE(std::strstr(error_detail(), "allocated at: tensor: activations"), nullptr) << error_detail();
  ASSERT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
  EXPECT_STREQ(last_corruption().site, "tensor: activations");
}

TEST_P(GpuCanariesTest, ACleanSequencePassesAndKeepsTheData) {
  for (SafetyLevel level : {SafetyLevel::kCanaries, SafetyLevel::kFull}) {
    SCOPED_TRACE(safety_level_name(level));
    auto pool = variable_pool(level);
    std::vector<unsigned char*> blocks;
    for (std::size_t size : {1u, 255u, 256u, 4000u, 65536u}) {
      unsigned char* block = allocate(*pool, size);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 256, 0U);
      device_write(block, std::vector<unsigned char>(size, static_cast<unsigned char>(size)));
      blocks.push_back(block);
    }
    EXPECT_EQ(pool->verify(), Status::kOk) << error_detail();
    EXPECT_EQ(device_read(blocks[3], 4000), std::vector<unsigned char>(4000, static_cast<unsigned char>(4000)));
    for (unsigned char* block : blocks) EXPECT_EQ(pool->deallocate(block), Status::kOk) << error_detail();
    EXPECT_EQ(pool->stats().live_blocks, 0U);
    unsigned char* reused = allocate(*pool, 4000);
    EXPECT_EQ(pool->deallocate(reused), Status::kOk) << "freed blocks are handed out again without false reports";
  }
}

TEST_P(GpuCanariesTest, FixedPoolsOverDeviceMemoryHaveCanariesToo) {
  FixedPoolConfig config;
  config.block_size = 1024;
  config.alignment = 256;
  std::unique_ptr<Pool> pool;
  ASSERT_EQ(make_fixed_pool(config, ThreadSafety::kMutex, std::make_shared<DeviceBackend>(runtime_, 0), &pool,
                            SafetyLevel::kCanaries),
            Status::kOk)
      << error_detail();
  unsigned char* a = allocate(*pool, 1024);
  unsigned char* b = allocate(*pool, 1024);
  device_write(a, std::vector<unsigned char>(1024, 1));  // the whole block, no further
  EXPECT_EQ(pool->deallocate(a), Status::kOk);
  device_write(b + 1024, {0});
  ASSERT_EQ(pool->deallocate(b), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kBack);
  EXPECT_EQ(last_corruption().size, 1024U);
}

TEST_P(GpuCanariesTest, DeviceManagerPoolsCheckTheirBlocks) {
  StreamOrderedPool* pool = nullptr;
  const auto full = manager(SafetyLevel::kFull, &pool);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->info().safety, SafetyLevel::kFull);
  EXPECT_EQ(full->pinned_pool().info().safety, SafetyLevel::kFull);

  void* clean = nullptr;
  ASSERT_EQ(pool->allocate(512, stream_, &clean), Status::kOk) << error_detail();
  device_write(static_cast<unsigned char*>(clean), std::vector<unsigned char>(512, 3));
  ASSERT_EQ(pool->deallocate(clean, stream_), Status::kOk);

  void* block = nullptr;
  ASSERT_EQ(pool->allocate(512, StreamOrderedPool::kNoStream, &block), Status::kOk);
  device_write(static_cast<unsigned char*>(block) + 512, {0});
  ASSERT_EQ(pool->verify(), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().block, reinterpret_cast<std::uintptr_t>(block));
  ASSERT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kBack);
  EXPECT_EQ(last_corruption().size, 512U);
  EXPECT_EQ(pool->stats().live_blocks, 1U) << "the damaged block stays the caller's";
}

TEST_P(GpuCanariesTest, StreamOrderedFreesCheckTheGuardsToo) {
  StreamOrderedPool* pool = nullptr;
  const auto canaries = manager(SafetyLevel::kCanaries, &pool);
  ASSERT_NE(pool, nullptr);

  void* block = nullptr;
  ASSERT_EQ(pool->allocate(512, stream_, &block), Status::kOk) << error_detail();
  // The overflow is still in flight on the stream when the block is freed.
  std::vector<unsigned char> past_the_end(8, 0x5A);
  ASSERT_EQ(runtime_->memcpy_async(static_cast<unsigned char*>(block) + 512, past_the_end.data(), past_the_end.size(),
                                   CopyKind::kHostToDevice, stream_),
            Status::kOk);
  ASSERT_EQ(pool->deallocate(block, stream_), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().block, reinterpret_cast<std::uintptr_t>(block));
  EXPECT_EQ(last_corruption().guard, Guard::kBack);
  EXPECT_EQ(pool->stats().live_blocks, 1U) << "the damaged block stays the caller's";
  EXPECT_EQ(pool->stats().cached_blocks, 0U) << "a damaged block must not be handed out again";

  void* clean = nullptr;
  ASSERT_EQ(pool->allocate(512, stream_, &clean), Status::kOk);
  EXPECT_NE(clean, block);
  EXPECT_EQ(pool->deallocate(clean, stream_), Status::kOk) << error_detail();
}

TEST_P(GpuCanariesTest, BytesBetweenTheSizeAndTheRoundingAreGuarded) {
  StreamOrderedPool* pool = nullptr;
  const auto canaries = manager(SafetyLevel::kCanaries, &pool);
  ASSERT_NE(pool, nullptr);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(1000, StreamOrderedPool::kNoStream, &block), Status::kOk) << error_detail();
  device_write(static_cast<unsigned char*>(block), std::vector<unsigned char>(1000, 7));  // all of it: fine
  ASSERT_EQ(pool->verify(), Status::kOk) << error_detail();
  device_write(static_cast<unsigned char*>(block) + 1000, {0});  // byte 1000: inside the 1024 rounding
  ASSERT_EQ(pool->deallocate(block), Status::kMemoryCorrupted);
  EXPECT_EQ(last_corruption().guard, Guard::kBack);
  EXPECT_EQ(last_corruption().size, 1000U);
  EXPECT_EQ(last_corruption().offset, 1000);
}

TEST_P(GpuCanariesTest, OutOfMemoryQuotesTheRequestedSize) {
  StreamOrderedPool* pool = nullptr;
  const auto canaries = manager(SafetyLevel::kOff, &pool);
  ASSERT_NE(pool, nullptr);
  void* block = nullptr;
  const std::size_t too_big = (std::size_t{1} << 40) + 1;
  ASSERT_EQ(pool->allocate(too_big, StreamOrderedPool::kNoStream, &block), Status::kOutOfPoolMemory);
  EXPECT_NE(std::string(error_detail()).find(std::to_string(too_big)), std::string::npos) << error_detail();
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuCanariesTest);

}  // namespace
}  // namespace nativepool::gpu
