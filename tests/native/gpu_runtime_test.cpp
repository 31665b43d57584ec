// SPDX-License-Identifier: Apache-2.0
// DeviceRuntime semantics the layers above rely on: stream order, events,
// cross-stream waits, copies, peer access and CUDA-style errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "nativepool/gpu/device_error.hpp"

namespace nativepool::gpu {
namespace {

using testing::Gate;

class GpuRuntimeTest : public testing::RuntimeTest {
 protected:
  Stream stream(int device = 0) {
    Stream s{};
    EXPECT_EQ(runtime_->stream_create(device, &s), Status::kOk);
    streams_.push_back(s);
    return s;
  }
  Event event(int device = 0) {
    Event e{};
    EXPECT_EQ(runtime_->event_create(device, &e), Status::kOk);
    events_.push_back(e);
    return e;
  }
  void* device_memory(std::size_t size, int device = 0) {
    void* memory = nullptr;
    EXPECT_EQ(runtime_->device_malloc(device, size, &memory), Status::kOk);
    memory_.emplace_back(device, memory);
    return memory;
  }
  void TearDown() override {
    if (runtime_ == nullptr || IsSkipped()) return;
    for (Stream s : streams_) runtime_->stream_destroy(s);
    for (Event e : events_) runtime_->event_destroy(e);
    for (auto [device, memory] : memory_) runtime_->device_free(device, memory);
  }

  std::vector<Stream> streams_;
  std::vector<Event> events_;
  std::vector<std::pair<int, void*>> memory_;
};

TEST_P(GpuRuntimeTest, DeviceMemoryIs256ByteAlignedAndCounted) {
  MemoryInfo before;
  ASSERT_EQ(runtime_->memory_info(0, &before), Status::kOk);
  EXPECT_GT(before.total_bytes, 0u);
  void* memory = device_memory(1000);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(memory) % 256, 0u);
  MemoryInfo after;
  ASSERT_EQ(runtime_->memory_info(0, &after), Status::kOk);
  EXPECT_LT(after.free_bytes, before.free_bytes);
}

TEST_P(GpuRuntimeTest, CopiesRoundTripThroughTheDevice) {
  Stream s = stream();
  std::vector<char> in(4096), out(4096, 0);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<char>(i * 7);
  void* a = device_memory(in.size());
  void* b = device_memory(in.size());
  ASSERT_EQ(runtime_->memcpy_async(a, in.data(), in.size(), CopyKind::kHostToDevice, s), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_async(b, a, in.size(), CopyKind::kDeviceToDevice, s), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_async(out.data(), b, in.size(), CopyKind::kDeviceToHost, s), Status::kOk);
  ASSERT_EQ(runtime_->stream_synchronize(s), Status::kOk);
  EXPECT_EQ(in, out);
}

TEST_P(GpuRuntimeTest, EventsCompleteWhenTheStreamReachesThem) {
  Stream s = stream();
  Event e = event();
  bool complete = false;
  ASSERT_EQ(runtime_->event_query(e, &complete), Status::kOk);
  EXPECT_TRUE(complete) << "an event never recorded counts as complete";
  Gate gate;
  gate.enqueue(*runtime_, s);
  ASSERT_EQ(runtime_->event_record(e, s), Status::kOk);
  ASSERT_EQ(runtime_->event_query(e, &complete), Status::kOk);
  EXPECT_FALSE(complete);
  gate.open();
  ASSERT_EQ(runtime_->event_synchronize(e), Status::kOk);
  ASSERT_EQ(runtime_->event_query(e, &complete), Status::kOk);
  EXPECT_TRUE(complete);
}

TEST_P(GpuRuntimeTest, StreamWaitEventOrdersTheStreamNotTheHost) {
  Stream producer = stream();
  Stream consumer = stream();
  Event produced = event();
  Event consumed = event();
  Gate gate;
  gate.enqueue(*runtime_, producer);
  ASSERT_EQ(runtime_->event_record(produced, producer), Status::kOk);
  ASSERT_EQ(runtime_->stream_wait_event(consumer, produced), Status::kOk);  // returns at once
  ASSERT_EQ(runtime_->event_record(consumed, consumer), Status::kOk);
  bool complete = true;
  ASSERT_EQ(runtime_->event_query(consumed, &complete), Status::kOk);
  EXPECT_FALSE(complete) << "the consumer must wait for the producer";
  gate.open();
  ASSERT_EQ(runtime_->stream_synchronize(consumer), Status::kOk);
  ASSERT_EQ(runtime_->event_query(produced, &complete), Status::kOk);
  EXPECT_TRUE(complete);
}

TEST_P(GpuRuntimeTest, ABlockedStreamDoesNotBlockAnother) {
  Stream blocked = stream();
  Stream free_running = stream();
  Gate gate;
  gate.enqueue(*runtime_, blocked);
  std::vector<char> in(256, 'x'), out(256, 0);
  void* memory = device_memory(256);
  ASSERT_EQ(runtime_->memcpy_async(memory, in.data(), 256, CopyKind::kHostToDevice, free_running), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_async(out.data(), memory, 256, CopyKind::kDeviceToHost, free_running), Status::kOk);
  ASSERT_EQ(runtime_->stream_synchronize(free_running), Status::kOk);
  EXPECT_EQ(in, out);
}

TEST_P(GpuRuntimeTest, SynchronousFillAndCopiesNeedNoStream) {
  std::vector<unsigned char> in(1000, 0x5A), out(1000, 0);
  auto* a = static_cast<unsigned char*>(device_memory(in.size()));
  ASSERT_EQ(runtime_->memset_sync(0, a, 0xFD, in.size()), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_sync(0, a + 10, in.data(), 20, CopyKind::kHostToDevice), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_sync(0, out.data(), a, out.size(), CopyKind::kDeviceToHost), Status::kOk);
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_EQ(out[i], i >= 10 && i < 30 ? 0x5A : 0xFD) << "byte " << i;
  }
  if (GetParam() != "simulated") return;  // CUDA's checks of host pointers depend on the driver
  EXPECT_EQ(runtime_->memset_sync(0, in.data(), 0, in.size()), Status::kDeviceError);
  EXPECT_STREQ(last_device_error().call, "cudaMemsetAsync");
  EXPECT_EQ(runtime_->memcpy_sync(1, out.data(), a, 16, CopyKind::kDeviceToHost), Status::kDeviceError)
      << "the memory belongs to device 0";
}

TEST_P(GpuRuntimeTest, OutOfDeviceMemoryIsACudaError) {
  MemoryInfo info;
  ASSERT_EQ(runtime_->memory_info(0, &info), Status::kOk);
  void* memory = nullptr;
  ASSERT_EQ(runtime_->device_malloc(0, info.total_bytes * 2, &memory), Status::kDeviceError);
  const DeviceError error = last_device_error();
  EXPECT_STREQ(error.name, "cudaErrorMemoryAllocation");
  EXPECT_EQ(error.code, 2);
  EXPECT_STREQ(error.call, "cudaMalloc");
  EXPECT_NE(std::strstr(error_detail(), "cudaMalloc failed: cudaErrorMemoryAllocation (2)"), nullptr) << error_detail();
}

TEST_P(GpuRuntimeTest, ADeviceThatDoesNotExistIsRefused) {
  void* memory = nullptr;
  EXPECT_EQ(runtime_->device_malloc(runtime_->device_count(), 256, &memory), Status::kInvalidArgument);
  Stream s{};
  EXPECT_EQ(runtime_->stream_create(-1, &s), Status::kInvalidArgument);
}

TEST_P(GpuRuntimeTest, PinnedMemoryIsHostAccessible) {
  void* pinned = nullptr;
  ASSERT_EQ(runtime_->pinned_malloc(10000, &pinned), Status::kOk);
  std::memset(pinned, 0xab, 10000);
  Stream s = stream();
  void* memory = device_memory(10000);
  std::vector<unsigned char> out(10000);
  ASSERT_EQ(runtime_->memcpy_async(memory, pinned, 10000, CopyKind::kHostToDevice, s), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_async(out.data(), memory, 10000, CopyKind::kDeviceToHost, s), Status::kOk);
  ASSERT_EQ(runtime_->stream_synchronize(s), Status::kOk);
  EXPECT_EQ(out[9999], 0xab);
  runtime_->pinned_free(pinned);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuRuntimeTest);

class GpuPeerTest : public GpuRuntimeTest {
 protected:
  void SetUp() override { SetUpRuntime(2); }
};

TEST_P(GpuPeerTest, PeerCopiesMoveDataBetweenDevices) {
  bool possible = false;
  ASSERT_EQ(runtime_->can_access_peer(0, 1, &possible), Status::kOk);
  if (possible) {
    EXPECT_EQ(runtime_->enable_peer_access(0, 1), Status::kOk);
  }
  std::vector<char> in(1024, 'p'), out(1024, 0);
  void* on0 = device_memory(1024, 0);
  void* on1 = device_memory(1024, 1);
  Stream s = stream(0);
  ASSERT_EQ(runtime_->memcpy_async(on0, in.data(), 1024, CopyKind::kHostToDevice, s), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_peer_async(on1, 1, on0, 0, 1024, s), Status::kOk);
  ASSERT_EQ(runtime_->memcpy_async(out.data(), on1, 1024, CopyKind::kDeviceToHost, s), Status::kOk);
  ASSERT_EQ(runtime_->stream_synchronize(s), Status::kOk);
  EXPECT_EQ(in, out);
}

TEST_P(GpuPeerTest, AnEventIsRecordedOnlyOnItsOwnDevice) {
  Event on0 = event(0);
  Stream on1 = stream(1);
  ASSERT_EQ(runtime_->event_record(on0, on1), Status::kDeviceError);
  EXPECT_STREQ(last_device_error().call, "cudaEventRecord");
  ASSERT_EQ(runtime_->stream_wait_event(on1, on0), Status::kOk) << "waiting across devices is allowed";
  ASSERT_EQ(runtime_->stream_synchronize(on1), Status::kOk);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuPeerTest);

TEST(GpuRuntimeTest, SimulatedRuntimeNeedsDevicesAndCapacity) {
  std::shared_ptr<DeviceRuntime> runtime;
  EXPECT_EQ(make_simulated_runtime(0, 1024, &runtime), Status::kInvalidArgument);
  EXPECT_EQ(make_simulated_runtime(1, 0, &runtime), Status::kInvalidArgument);
  // Totals that would not fit a signed 64-bit figure.
  EXPECT_EQ(make_simulated_runtime(2, std::size_t{INT64_MAX}, &runtime), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("2 devices of 9223372036854775807 bytes exceed"), std::string::npos)
      << error_detail();
  ASSERT_EQ(make_simulated_runtime(1, std::size_t{INT64_MAX}, &runtime), Status::kOk);
  ASSERT_EQ(make_simulated_runtime(2, std::size_t{INT64_MAX} / 2, &runtime), Status::kOk);
}

TEST(GpuRuntimeTest, CudaRuntimeAnswersEvenWithoutADevice) {
  std::shared_ptr<DeviceRuntime> runtime;
  if (!cuda_compiled()) {
    EXPECT_EQ(cuda_runtime(&runtime), Status::kFeatureUnavailable);
    return;
  }
  ASSERT_EQ(cuda_runtime(&runtime), Status::kOk);
  if (runtime->device_count() > 0) {
    GTEST_SKIP() << "a CUDA device is present; this checks the no-device path";
  }
  void* memory = nullptr;
  EXPECT_EQ(runtime->device_malloc(0, 256, &memory), Status::kNoDevice);
  EXPECT_NE(std::strstr(error_detail(), "no CUDA device"), nullptr) << error_detail();
}

}  // namespace
}  // namespace nativepool::gpu
