// SPDX-License-Identifier: Apache-2.0
// Device and pinned backends, and how make_backend() builds the GPU ones.
#include <gtest/gtest.h>

#include "gpu_test_support.hpp"
#include "nativepool/backends.hpp"
#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/pinned_backend.hpp"

namespace nativepool::gpu {
namespace {

using GpuBackendTest = testing::RuntimeTest;

TEST_P(GpuBackendTest, DeviceRegionsHonourLargeAlignments) {
  DeviceBackend backend(runtime_, 0);
  EXPECT_EQ(backend.kind(), MemoryKind::kDevice);
  EXPECT_EQ(backend.device(), 0);
  EXPECT_FALSE(backend.host_accessible());
  MemoryInfo before;
  ASSERT_EQ(runtime_->memory_info(0, &before), Status::kOk);
  for (std::size_t alignment : {std::size_t{256}, std::size_t{4096}, std::size_t{1} << 20}) {
    void* region = nullptr;
    ASSERT_EQ(backend.allocate(std::size_t{3} << 20, alignment, &region), Status::kOk) << alignment;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(region) % alignment, 0u) << alignment;
    backend.deallocate(region, std::size_t{3} << 20, alignment);
  }
  MemoryInfo after;
  ASSERT_EQ(runtime_->memory_info(0, &after), Status::kOk);
  if (GetParam() == "simulated") {
    EXPECT_EQ(after.free_bytes, before.free_bytes) << "every region went back";
  }
  void* region = nullptr;
  EXPECT_EQ(backend.allocate(0, 256, &region), Status::kInvalidArgument);
  EXPECT_EQ(backend.allocate(256, 3, &region), Status::kInvalidArgument);
}

TEST_P(GpuBackendTest, PinnedRegionsArePageAligned) {
  PinnedBackend backend(runtime_);
  EXPECT_EQ(backend.kind(), MemoryKind::kPinnedHost);
  EXPECT_TRUE(backend.host_accessible());
  void* region = nullptr;
  ASSERT_EQ(backend.allocate(100, 4096, &region), Status::kOk);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(region) % 4096, 0u);
  static_cast<char*>(region)[99] = 1;
  backend.deallocate(region, 100, 4096);
  EXPECT_EQ(backend.allocate(100, 8192, &region), Status::kInvalidArgument);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuBackendTest);

TEST(GpuMakeBackendTest, SimulatedDevicesComeFromTheDefaultRuntime) {
  std::shared_ptr<Backend> backend;
  ASSERT_EQ(make_backend(BackendType::kSimulatedDevice, 1, &backend), Status::kOk);
  EXPECT_EQ(backend->kind(), MemoryKind::kDevice);
  EXPECT_EQ(backend->name(), "simulated:1");
  EXPECT_EQ(make_backend(BackendType::kSimulatedDevice, 4, &backend), Status::kInvalidArgument);
}

TEST(GpuMakeBackendTest, CudaBackendsSayWhyTheyAreUnavailable) {
  std::shared_ptr<DeviceRuntime> cuda;
  if (cuda_compiled() && cuda_runtime(&cuda) == Status::kOk && cuda->device_count() > 0) {
    GTEST_SKIP() << "a CUDA device is present; this checks the unavailable path";
  }
  std::shared_ptr<Backend> backend;
  const Status expected = cuda_compiled() ? Status::kNoDevice : Status::kFeatureUnavailable;
  EXPECT_EQ(make_backend(BackendType::kCudaDevice, 0, &backend), expected);
  EXPECT_EQ(make_backend(BackendType::kCudaPinned, 0, &backend), expected);
}

}  // namespace
}  // namespace nativepool::gpu
