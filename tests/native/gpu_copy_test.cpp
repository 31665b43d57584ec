// SPDX-License-Identifier: Apache-2.0
// copy_async(): directions inferred from memory kinds, bounds checks, and the
// wrong-device errors, all reported before anything is enqueued.
#include <gtest/gtest.h>

#include <vector>

#include "gpu_test_support.hpp"
#include "nativepool/gpu/copy.hpp"

namespace nativepool::gpu {
namespace {

class GpuCopyTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (runtime_ == nullptr || IsSkipped()) return;
    ASSERT_EQ(runtime_->stream_create(0, &stream_), Status::kOk);
    device_a_ = device_range(0);
    device_b_ = device_range(0);
  }
  void TearDown() override {
    if (runtime_ == nullptr || IsSkipped()) return;
    runtime_->stream_destroy(stream_);
    for (const MemoryRange& range : owned_) runtime_->device_free(range.device, range.base);
  }
  MemoryRange device_range(int device) {
    MemoryRange range{nullptr, kSize, MemoryKind::kDevice, device};
    EXPECT_EQ(runtime_->device_malloc(device, kSize, &range.base), Status::kOk);
    owned_.push_back(range);
    return range;
  }
  static MemoryRange host_range(std::vector<unsigned char>& bytes) {
    return {bytes.data(), bytes.size(), MemoryKind::kHost, -1};
  }

  static constexpr std::size_t kSize = 4096;
  Stream stream_{};
  MemoryRange device_a_;
  MemoryRange device_b_;
  std::vector<MemoryRange> owned_;
};

TEST_P(GpuCopyTest, CopiesWithOffsetsInEveryDirection) {
  std::vector<unsigned char> in(kSize), out(kSize, 0);
  for (std::size_t i = 0; i < kSize; ++i) in[i] = static_cast<unsigned char>(i);
  ASSERT_EQ(copy_async(*runtime_, device_a_, 0, host_range(in), 0, kSize, stream_), Status::kOk);
  ASSERT_EQ(copy_async(*runtime_, device_b_, 100, device_a_, 200, 1000, stream_), Status::kOk);
  ASSERT_EQ(copy(*runtime_, host_range(out), 10, device_b_, 100, 1000, stream_), Status::kOk);
  for (std::size_t i = 0; i < 1000; ++i) ASSERT_EQ(out[10 + i], in[200 + i]) << i;
}

TEST_P(GpuCopyTest, CopyPastTheEndIsRefused) {
  std::vector<unsigned char> host(kSize);
  EXPECT_EQ(copy_async(*runtime_, device_a_, 1, host_range(host), 0, kSize, stream_), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("runs past the end of the 4096-byte destination"), std::string::npos)
      << error_detail();
  EXPECT_EQ(copy_async(*runtime_, host_range(host), 0, device_a_, kSize + 1, 0, stream_), Status::kInvalidArgument);
  EXPECT_EQ(copy_async(*runtime_, device_a_, 0, device_b_, 8, SIZE_MAX - 4, stream_), Status::kInvalidArgument);
}

TEST_P(GpuCopyTest, HostToHostIsRefused) {
  std::vector<unsigned char> a(16), b(16);
  EXPECT_EQ(copy_async(*runtime_, host_range(a), 0, host_range(b), 0, 16, stream_), Status::kInvalidArgument);
}

TEST_P(GpuCopyTest, ZeroBytesIsANoOp) {
  std::vector<unsigned char> host(16);
  EXPECT_EQ(copy_async(*runtime_, device_a_, kSize, host_range(host), 16, 0, stream_), Status::kOk);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuCopyTest);

class GpuPeerCopyTest : public GpuCopyTest {
 protected:
  void SetUp() override {
    SetUpRuntime(2);
    if (runtime_ == nullptr || IsSkipped()) return;
    ASSERT_EQ(runtime_->stream_create(0, &stream_), Status::kOk);
    device_a_ = device_range(0);
    device_b_ = device_range(1);
  }
};

TEST_P(GpuPeerCopyTest, PeerCopyBetweenDevices) {
  std::vector<unsigned char> in(kSize, 0x5a), out(kSize, 0);
  ASSERT_EQ(copy_async(*runtime_, device_a_, 0, host_range(in), 0, kSize, stream_), Status::kOk);
  ASSERT_EQ(copy_async(*runtime_, device_b_, 0, device_a_, 0, kSize, stream_), Status::kOk);
  Stream on_b{};
  ASSERT_EQ(runtime_->stream_create(1, &on_b), Status::kOk);
  ASSERT_EQ(runtime_->stream_synchronize(stream_), Status::kOk);
  EXPECT_EQ(copy(*runtime_, host_range(out), 0, device_b_, 0, kSize, on_b), Status::kOk);
  runtime_->stream_destroy(on_b);
  EXPECT_EQ(in, out);
}

TEST_P(GpuPeerCopyTest, AStreamOfAnotherDeviceIsRefused) {
  std::vector<unsigned char> host(kSize);
  EXPECT_EQ(copy_async(*runtime_, device_b_, 0, host_range(host), 0, kSize, stream_), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("wrong device"), std::string::npos) << error_detail();
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuPeerCopyTest);

}  // namespace
}  // namespace nativepool::gpu
