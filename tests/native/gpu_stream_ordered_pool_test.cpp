// SPDX-License-Identifier: Apache-2.0
// The stream-ordered reuse rules: a block freed on a stream is reusable at
// once on that stream, and on another stream only after the free-time event
// completed or the other stream was made to wait for it. Streams are held at
// known points with gates, so "not yet complete" is deterministic.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "gpu_test_support.hpp"
#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/stream_ordered_pool.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool::gpu {
namespace {

using testing::Gate;

class GpuStreamOrderedPoolTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (runtime_ == nullptr || IsSkipped()) return;
    pool_ = make_pool(0);
    ASSERT_NE(pool_, nullptr);
    s_ = stream(0);
    t_ = stream(0);
  }
  void TearDown() override {
    if (runtime_ == nullptr || IsSkipped()) return;
    for (Stream s : streams_) {
      pool_->release_stream(s);
      runtime_->stream_destroy(s);
    }
  }

  std::unique_ptr<StreamOrderedPool> make_pool(int device, std::size_t max_bytes = 0) {
    VariablePoolConfig config;
    config.arena_size = std::size_t{4} << 20;
    config.granularity = 256;
    config.max_bytes = max_bytes;
    std::unique_ptr<Pool> upstream;
    // OFF: the reuse rules under test are those of pools without guards
    // (a pool with guards frees at once; gpu_canaries_test covers it).
    EXPECT_EQ(make_variable_pool(config, ThreadSafety::kNone, std::make_shared<DeviceBackend>(runtime_, device),
                                 &upstream, SafetyLevel::kOff),
              Status::kOk);
    return std::make_unique<StreamOrderedPool>(runtime_, device, std::move(upstream), 256);
  }
  Stream stream(int device) {
    Stream s{};
    EXPECT_EQ(runtime_->stream_create(device, &s), Status::kOk);
    streams_.push_back(s);
    return s;
  }
  void* allocate(std::size_t size, Stream on) {
    void* block = nullptr;
    EXPECT_EQ(pool_->allocate(size, on, &block), Status::kOk);
    return block;
  }
  /// Whether the work enqueued on @p s so far completes within @p patience.
  bool drains(Stream s, std::chrono::milliseconds patience) {
    Event e{};
    EXPECT_EQ(runtime_->event_create(runtime_->stream_device(s), &e), Status::kOk);
    EXPECT_EQ(runtime_->event_record(e, s), Status::kOk);
    bool complete = false;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    do {
      EXPECT_EQ(runtime_->event_query(e, &complete), Status::kOk);
      if (!complete) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } while (!complete && std::chrono::steady_clock::now() < deadline);
    runtime_->event_destroy(e);
    return complete;
  }
  /// Not blocked: drains while its possible blockers stay held.
  bool runs_freely(Stream s) { return drains(s, std::chrono::seconds(10)); }
  /// Blocked: still busy after a while (which a free stream never is).
  bool blocked(Stream s) { return !drains(s, std::chrono::milliseconds(100)); }

  std::unique_ptr<StreamOrderedPool> pool_;
  std::vector<Stream> streams_;
  Stream s_{};
  Stream t_{};
};

TEST_P(GpuStreamOrderedPoolTest, BlocksAre256ByteAligned) {
  for (std::size_t size : {1u, 255u, 257u, 5000u}) {
    void* block = allocate(size, s_);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 256, 0u) << size;
    EXPECT_EQ(pool_->deallocate(block), Status::kOk);
  }
}

TEST_P(GpuStreamOrderedPoolTest, SameStreamReusesAtOnce) {
  Gate gate;
  gate.enqueue(*runtime_, s_);  // the free event cannot complete
  void* block = allocate(1000, s_);
  ASSERT_EQ(pool_->deallocate(block, s_), Status::kOk);
  EXPECT_EQ(allocate(1000, s_), block);
  const StreamOrderedStats stats = pool_->stats();
  EXPECT_EQ(stats.reused_same_stream, 1u);
  EXPECT_EQ(stats.upstream_allocations, 1u);
  gate.open();
}

TEST_P(GpuStreamOrderedPoolTest, OtherStreamReusesAfterTheEventCompleted) {
  void* block = allocate(1000, s_);
  ASSERT_EQ(pool_->deallocate(block, s_), Status::kOk);
  ASSERT_EQ(runtime_->stream_synchronize(s_), Status::kOk);
  Gate gate;
  gate.enqueue(*runtime_, s_);  // s_ busy again, but after the free
  EXPECT_EQ(allocate(1000, t_), block);
  EXPECT_EQ(pool_->stats().reused_after_event, 1u);
  EXPECT_TRUE(runs_freely(t_)) << "no wait was needed, so t_ must not depend on s_";
  gate.open();
}

TEST_P(GpuStreamOrderedPoolTest, OtherStreamWaitsOnTheEventOtherwise) {
  Gate gate;
  gate.enqueue(*runtime_, s_);  // work using the block still pending on s_
  void* block = allocate(1000, s_);
  ASSERT_EQ(pool_->deallocate(block, s_), Status::kOk);
  EXPECT_EQ(allocate(1000, t_), block);  // returns at once: the host does not wait
  EXPECT_EQ(pool_->stats().reused_after_wait, 1u);
  EXPECT_TRUE(blocked(t_)) << "t_ must wait for s_'s free before touching the block";
  gate.open();
  ASSERT_EQ(runtime_->stream_synchronize(t_), Status::kOk);
}

TEST_P(GpuStreamOrderedPoolTest, UnrelatedStreamsAreNotSerialised) {
  Gate gate;
  gate.enqueue(*runtime_, s_);
  void* on_s = allocate(1000, s_);
  ASSERT_EQ(pool_->deallocate(on_s, s_), Status::kOk);
  void* on_t = allocate(64 << 10, t_);  // too big for s_'s cached block: fresh memory
  EXPECT_NE(on_t, on_s);
  ASSERT_EQ(pool_->deallocate(on_t, t_), Status::kOk);
  EXPECT_TRUE(runs_freely(t_)) << "t_ never touched s_'s block and must not wait for s_";
  gate.open();
}

TEST_P(GpuStreamOrderedPoolTest, CachedBlocksGoBackWhenThePoolIsFull) {
  pool_ = make_pool(0, std::size_t{4} << 20);
  void* first = allocate(3 << 20, s_);
  ASSERT_EQ(pool_->deallocate(first, s_), Status::kOk);
  EXPECT_EQ(pool_->stats().cached_blocks, 1u);
  // Too small to reuse the 3 MiB block, too big to fit beside it: the pool
  // must wait for s_ and take the cached block back first.
  void* second = allocate((5 << 20) / 4, t_);
  EXPECT_NE(second, nullptr);
  const StreamOrderedStats stats = pool_->stats();
  EXPECT_EQ(stats.cached_blocks, 0u);
  EXPECT_EQ(stats.live_blocks, 1u);
  EXPECT_EQ(pool_->deallocate(second), Status::kOk);
}

TEST_P(GpuStreamOrderedPoolTest, ReleasingAStreamReturnsItsBlocks) {
  void* block = allocate(1000, s_);
  ASSERT_EQ(pool_->deallocate(block, s_), Status::kOk);
  pool_->release_stream(s_);
  const StreamOrderedStats stats = pool_->stats();
  EXPECT_EQ(stats.cached_blocks, 0u);
  EXPECT_EQ(stats.upstream.live_blocks, 0u);
}

TEST_P(GpuStreamOrderedPoolTest, MisuseIsReported) {
  void* block = allocate(1000, s_);
  ASSERT_EQ(pool_->deallocate(block, s_), Status::kOk);
  EXPECT_EQ(pool_->deallocate(block, s_), Status::kDoubleFree);
  EXPECT_EQ(pool_->deallocate(block), Status::kDoubleFree);
  int local = 0;
  EXPECT_EQ(pool_->deallocate(&local, s_), Status::kInvalidFree);
  void* out = nullptr;
  EXPECT_EQ(pool_->allocate(0, s_, &out), Status::kInvalidArgument);
  (void)pool_->trim();
  EXPECT_EQ(pool_->stats().cached_blocks, 0u);
}

TEST_P(GpuStreamOrderedPoolTest, StatsSeparateLiveFromCached) {
  void* a = allocate(300, s_);
  void* b = allocate(600, s_);
  ASSERT_EQ(pool_->deallocate(a, s_), Status::kOk);
  const StreamOrderedStats stats = pool_->stats();
  EXPECT_EQ(stats.live_blocks, 1u);
  EXPECT_EQ(stats.bytes_in_use, 768u);
  EXPECT_EQ(stats.cached_blocks, 1u);
  EXPECT_EQ(stats.cached_bytes, 512u);
  EXPECT_EQ(stats.upstream.live_blocks, 2u);
  EXPECT_EQ(pool_->deallocate(b), Status::kOk);
}

TEST_P(GpuStreamOrderedPoolTest, ThreadsOnTheirOwnStreamsShareOnePool) {
  constexpr int kThreads = 4;
  std::vector<Stream> lanes;
  for (int i = 0; i < kThreads; ++i) lanes.push_back(stream(0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<void*> held;
      for (int i = 0; i < 2000; ++i) {
        void* block = nullptr;
        const std::size_t size = 256u << ((i * 7 + t) % 8);
        // Alternate streams too, so blocks cross from one stream to another.
        const Stream on = lanes[static_cast<std::size_t>((t + i / 500) % kThreads)];
        ASSERT_EQ(pool_->allocate(size, on, &block), Status::kOk);
        held.push_back(block);
        if (held.size() > 8) {
          ASSERT_EQ(pool_->deallocate(held.front(), on), Status::kOk);
          held.erase(held.begin());
        }
      }
      for (void* block : held) ASSERT_EQ(pool_->deallocate(block, lanes[static_cast<std::size_t>(t)]), Status::kOk);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const StreamOrderedStats stats = pool_->stats();
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_EQ(stats.upstream.live_blocks, stats.cached_blocks);
  (void)pool_->trim();
  EXPECT_EQ(pool_->stats().upstream.live_blocks, 0u);
}

TEST_P(GpuStreamOrderedPoolTest, AFixedPoolManagesDeviceMemoryToo) {
  FixedPoolConfig config;
  config.block_size = 1024;
  config.alignment = 256;
  std::unique_ptr<Pool> fixed;
  ASSERT_EQ(make_fixed_pool(config, ThreadSafety::kNone, std::make_shared<DeviceBackend>(runtime_, 0), &fixed),
            Status::kOk);
  pool_ = std::make_unique<StreamOrderedPool>(runtime_, 0, std::move(fixed), 256);
  void* block = allocate(1000, s_);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % 256, 0u);
  ASSERT_EQ(pool_->deallocate(block, s_), Status::kOk);
  EXPECT_EQ(allocate(1000, s_), block);
  void* too_big = nullptr;
  EXPECT_EQ(pool_->allocate(2048, s_, &too_big), Status::kInvalidArgument);
  EXPECT_EQ(pool_->info().algorithm, "fixed");
  EXPECT_EQ(pool_->info().kind, MemoryKind::kDevice);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuStreamOrderedPoolTest);

class GpuStreamOrderedPoolDevicesTest : public GpuStreamOrderedPoolTest {
 protected:
  void SetUp() override {
    SetUpRuntime(2);
    if (runtime_ == nullptr || IsSkipped()) return;
    pool_ = make_pool(0);
    s_ = stream(0);
    t_ = stream(1);
  }
};

TEST_P(GpuStreamOrderedPoolDevicesTest, AStreamOfAnotherDeviceIsRefused) {
  void* block = nullptr;
  EXPECT_EQ(pool_->allocate(256, t_, &block), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("wrong device"), std::string::npos) << error_detail();
  block = allocate(256, s_);
  EXPECT_EQ(pool_->deallocate(block, t_), Status::kInvalidArgument);
  EXPECT_EQ(pool_->deallocate(block, s_), Status::kOk);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuStreamOrderedPoolDevicesTest);

}  // namespace
}  // namespace nativepool::gpu
