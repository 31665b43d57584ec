// SPDX-License-Identifier: Apache-2.0
// Pinned host memory on a NUMA node: the region is bound before the runtime
// pins (and so faults in) its pages, and pools work over it as over any
// pinned backend.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "gpu_test_support.hpp"
#include "nativepool/gpu/numa_pinned_backend.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool::gpu {
namespace {

class GpuNumaPinnedTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    if (!numa_available()) GTEST_SKIP() << "NUMA unavailable: " << numa_unavailable_reason();
  }
};

TEST_P(GpuNumaPinnedTest, RegionsArePinnedWithEveryPageOnTheNode) {
  std::shared_ptr<NumaPinnedBackend> backend;
  ASSERT_EQ(NumaPinnedBackend::create(runtime_, {NumaPolicy::kBind, {0}}, &backend), Status::kOk) << error_detail();
  EXPECT_EQ(backend->kind(), MemoryKind::kPinnedHost);
  EXPECT_EQ(backend->device(), 0);
  EXPECT_EQ(backend->name(), std::string(runtime_->name()) + "-pinned@numa:bind:0");
  constexpr std::size_t kBytes = std::size_t{1} << 20;
  void* region = nullptr;
  ASSERT_EQ(backend->allocate(kBytes, 4096, &region), Status::kOk) << error_detail();
  NumaPlacement placement;
  ASSERT_EQ(backend->placement(&placement), Status::kOk) << error_detail();
  EXPECT_EQ(placement.not_present, 0u) << "pinning faulted every page in";
  EXPECT_EQ(placement.pages_on_node.at(0), kBytes / placement.page_size);
  backend->deallocate(region, kBytes, 4096);
}

TEST_P(GpuNumaPinnedTest, AVariablePoolServesPinnedBlocksFromTheNode) {
  std::shared_ptr<NumaPinnedBackend> backend;
  ASSERT_EQ(NumaPinnedBackend::create(runtime_, {NumaPolicy::kPreferred, {0}}, &backend), Status::kOk);
  VariablePoolConfig config;
  config.arena_size = std::size_t{4} << 20;
  std::unique_ptr<Pool> pool;
  ASSERT_EQ(make_variable_pool(config, ThreadSafety::kMutex, backend, &pool), Status::kOk) << error_detail();
  EXPECT_EQ(pool->info().kind, MemoryKind::kPinnedHost);
  std::vector<void*> blocks(16);
  for (void*& block : blocks) {
    ASSERT_EQ(pool->allocate(64 << 10, 256, &block), Status::kOk) << error_detail();
    std::memset(block, 3, 64 << 10);
  }
  EXPECT_EQ(pool->stats().bytes_in_use, 16u * (64u << 10));
  for (void* block : blocks) ASSERT_EQ(pool->deallocate(block), Status::kOk);
  EXPECT_EQ(pool->trim(), std::size_t{4} << 20) << "the region was unregistered and unmapped";
}

TEST_P(GpuNumaPinnedTest, BadSpecsAreRefusedBeforeAnythingIsPinned) {
  std::shared_ptr<NumaPinnedBackend> backend;
  EXPECT_EQ(NumaPinnedBackend::create(runtime_, {NumaPolicy::kBind, {numa_node_count() + 64}}, &backend),
            Status::kInvalidArgument);
  EXPECT_NE(std::strstr(error_detail(), "does not exist"), nullptr) << error_detail();
  EXPECT_EQ(NumaPinnedBackend::create(runtime_, {NumaPolicy::kInterleave, {}}, &backend), Status::kInvalidArgument);
  EXPECT_EQ(backend, nullptr);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuNumaPinnedTest);

TEST(GpuNumaPinned, TheSimulatedRuntimeRefusesARangeRegisteredTwice) {
  std::shared_ptr<DeviceRuntime> runtime;
  ASSERT_EQ(make_simulated_runtime(1, 1 << 20, &runtime), Status::kOk);
  std::vector<unsigned char> bytes(8192, 7);
  ASSERT_EQ(runtime->host_register(bytes.data(), bytes.size()), Status::kOk);
  EXPECT_EQ(runtime->host_register(bytes.data(), bytes.size()), Status::kDeviceError);
  EXPECT_NE(std::strstr(error_detail(), "cudaErrorHostMemoryAlreadyRegistered"), nullptr) << error_detail();
  EXPECT_EQ(bytes[4096], 7) << "faulting the pages in kept their contents";
  runtime->host_unregister(bytes.data());
  EXPECT_EQ(runtime->host_register(bytes.data(), bytes.size()), Status::kOk);
  runtime->host_unregister(bytes.data());
  EXPECT_EQ(runtime->host_register(nullptr, 1), Status::kDeviceError);
}

}  // namespace
}  // namespace nativepool::gpu
