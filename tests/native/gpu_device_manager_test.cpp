// SPDX-License-Identifier: Apache-2.0
// DeviceManager: one pool per device, selection policies, peer access,
// handle ownership and aggregate figures.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "nativepool/gpu/device_manager.hpp"
#include "nativepool/region_listener.hpp"

namespace nativepool::gpu {
namespace {

class GpuDeviceManagerTest : public testing::RuntimeTest {
 protected:
  void SetUp() override {
    SetUpRuntime(2);
    if (runtime_ == nullptr || IsSkipped()) return;
    DeviceManagerConfig config;
    config.arena_size = std::size_t{4} << 20;
    config.pinned_arena_size = std::size_t{1} << 20;
    ASSERT_EQ(DeviceManager::create(runtime_, config, &manager_), Status::kOk);
  }

  std::unique_ptr<DeviceManager> manager_;
};

TEST_P(GpuDeviceManagerTest, OnePoolPerDeviceOnItsDevice) {
  ASSERT_EQ(manager_->device_count(), runtime_->device_count());
  for (int device = 0; device < manager_->device_count(); ++device) {
    StreamOrderedPool* pool = nullptr;
    ASSERT_EQ(manager_->device_pool(device, &pool), Status::kOk);
    EXPECT_EQ(pool->device(), device);
    EXPECT_EQ(pool->info().kind, MemoryKind::kDevice);
    EXPECT_EQ(pool->granularity(), 256u);
  }
  StreamOrderedPool* none = nullptr;
  EXPECT_EQ(manager_->device_pool(manager_->device_count(), &none), Status::kInvalidArgument);
  EXPECT_EQ(manager_->pinned_pool().info().kind, MemoryKind::kPinnedHost);
}

TEST_P(GpuDeviceManagerTest, ArenaSizesMustBePositiveMultiplesOfTheGranularity) {
  for (const std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{255}, std::size_t{1000}}) {
    for (const bool pinned : {false, true}) {
      DeviceManagerConfig config;
      (pinned ? config.pinned_arena_size : config.arena_size) = bad;
      std::unique_ptr<DeviceManager> refused;
      EXPECT_EQ(DeviceManager::create(runtime_, config, &refused), Status::kInvalidArgument)
          << (pinned ? "pinned " : "") << "arena size " << bad;
      EXPECT_NE(std::string(error_detail()).find("multiple of 256"), std::string::npos) << error_detail();
      EXPECT_EQ(refused, nullptr);
    }
  }
}

TEST_P(GpuDeviceManagerTest, SelectionPolicies) {
  int device = -1;
  ASSERT_EQ(manager_->select_device(SelectionPolicy::kExplicit, 1, &device), Status::kOk);
  EXPECT_EQ(device, 1);
  EXPECT_EQ(manager_->select_device(SelectionPolicy::kExplicit, 99, &device), Status::kInvalidArgument);
  std::set<int> seen;
  for (int i = 0; i < manager_->device_count(); ++i) {
    ASSERT_EQ(manager_->select_device(SelectionPolicy::kRoundRobin, -1, &device), Status::kOk);
    seen.insert(device);
  }
  EXPECT_EQ(static_cast<int>(seen.size()), manager_->device_count());
  EXPECT_EQ(manager_->select_device(static_cast<SelectionPolicy>(7), 0, &device), Status::kInvalidArgument);
}

TEST_P(GpuDeviceManagerTest, MostFreeMemoryCountsThePoolsFreeSpace) {
  StreamOrderedPool* pool0 = nullptr;
  ASSERT_EQ(manager_->device_pool(0, &pool0), Status::kOk);
  void* block = nullptr;
  // Grows pool 0 by an arena, then frees: the arena stays reserved but free,
  // so device 0 must not count as fuller than it is.
  ASSERT_EQ(pool0->allocate(1 << 20, StreamOrderedPool::kNoStream, &block), Status::kOk);
  ASSERT_EQ(pool0->deallocate(block), Status::kOk);
  MemoryInfo info0;
  MemoryInfo info1;
  ASSERT_EQ(runtime_->memory_info(0, &info0), Status::kOk);
  ASSERT_EQ(runtime_->memory_info(1, &info1), Status::kOk);
  int device = -1;
  ASSERT_EQ(manager_->select_device(SelectionPolicy::kMostFreeMemory, -1, &device), Status::kOk);
  if (GetParam() == "simulated") {
    EXPECT_EQ(device, 0) << "equal free memory: the lowest ordinal wins";
    ASSERT_EQ(pool0->allocate(3 << 20, StreamOrderedPool::kNoStream, &block), Status::kOk);
    ASSERT_EQ(manager_->select_device(SelectionPolicy::kMostFreeMemory, -1, &device), Status::kOk);
    EXPECT_EQ(device, 1);
    ASSERT_EQ(pool0->deallocate(block), Status::kOk);
  }
}

TEST_P(GpuDeviceManagerTest, PeerAccessIsEnabledWherePossible) {
  bool possible = false;
  ASSERT_EQ(runtime_->can_access_peer(0, 1, &possible), Status::kOk);
  EXPECT_EQ(manager_->peer_access(0, 1), possible);
  EXPECT_FALSE(manager_->peer_access(0, 0));
  EXPECT_FALSE(manager_->peer_access(0, 99));
}

TEST_P(GpuDeviceManagerTest, StreamsAndEventsLeftOpenAreDestroyedWithTheManager) {
  Stream stream{};
  Event event{};
  ASSERT_EQ(manager_->create_stream(1, &stream), Status::kOk);
  ASSERT_EQ(manager_->create_event(1, &event), Status::kOk);
  StreamOrderedPool* pool = nullptr;
  ASSERT_EQ(manager_->device_pool(1, &pool), Status::kOk);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(1000, stream, &block), Status::kOk);
  ASSERT_EQ(pool->deallocate(block, stream), Status::kOk);
  manager_.reset();  // must release the cached block, the stream and the event
}

TEST_P(GpuDeviceManagerTest, StatsPerDeviceAndAggregate) {
  StreamOrderedPool* pool1 = nullptr;
  ASSERT_EQ(manager_->device_pool(1, &pool1), Status::kOk);
  void* block = nullptr;
  ASSERT_EQ(pool1->allocate(1000, StreamOrderedPool::kNoStream, &block), Status::kOk);
  DeviceStats one;
  ASSERT_EQ(manager_->device_stats(1, &one), Status::kOk);
  EXPECT_EQ(one.device, 1);
  EXPECT_EQ(one.pool.live_blocks, 1u);
  EXPECT_EQ(one.pool.bytes_in_use, 1024u);
  EXPECT_GE(one.pool.upstream.reserved.bytes, std::uint64_t{4} << 20);
  DeviceStats all;
  ASSERT_EQ(manager_->aggregate_stats(&all), Status::kOk);
  EXPECT_EQ(all.device, -1);
  EXPECT_EQ(all.pool.live_blocks, 1u);
  EXPECT_GE(all.memory.total_bytes, one.memory.total_bytes);
  ASSERT_EQ(pool1->deallocate(block), Status::kOk);
}

// Each region a manager's pool maps or unmaps, with the device it was reported for.
struct RegionLog final : RegionListener {
  struct Entry {
    bool mapped;
    int device;
    void* region;
    std::size_t size;
  };
  RegionLog(int of, std::vector<Entry>* into) : device(of), entries(into) {}
  void mapped(void* region, std::size_t size) noexcept override { entries->push_back({true, device, region, size}); }
  void unmapped(void* region, std::size_t size) noexcept override {
    entries->push_back({false, device, region, size});
  }
  int device;
  std::vector<Entry>* entries;
};

TEST_P(GpuDeviceManagerTest, TheBackendHookSeesEveryRegionOfEveryPool) {
  std::vector<RegionLog::Entry> log;
  std::vector<int> wrapped;
  DeviceManagerConfig config;
  config.arena_size = std::size_t{4} << 20;
  config.pinned_arena_size = std::size_t{1} << 20;
  config.wrap_backend = [&](int device, std::shared_ptr<Backend>* backend) noexcept {
    wrapped.push_back(device);
    EXPECT_EQ((*backend)->kind(), device < 0 ? MemoryKind::kPinnedHost : MemoryKind::kDevice);
    *backend = std::make_shared<ListenedBackend>(std::move(*backend), std::make_shared<RegionLog>(device, &log));
    return Status::kOk;
  };
  std::unique_ptr<DeviceManager> manager;
  ASSERT_EQ(DeviceManager::create(runtime_, config, &manager), Status::kOk);
  EXPECT_EQ(wrapped, (std::vector<int>{0, 1, -1}));
  EXPECT_TRUE(log.empty());  // nothing is mapped before it is needed
  StreamOrderedPool* pool1 = nullptr;
  ASSERT_EQ(manager->device_pool(1, &pool1), Status::kOk);
  void* block = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(pool1->allocate(1000, StreamOrderedPool::kNoStream, &block), Status::kOk);
  ASSERT_EQ(manager->pinned_pool().allocate(1000, StreamOrderedPool::kNoStream, &pinned), Status::kOk);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_TRUE(log[0].mapped);
  EXPECT_EQ(log[0].device, 1);
  EXPECT_EQ(log[0].size, std::size_t{4} << 20);
  EXPECT_TRUE(log[1].mapped);
  EXPECT_EQ(log[1].device, -1);
  EXPECT_EQ(log[1].size, std::size_t{1} << 20);
  ASSERT_EQ(pool1->deallocate(block), Status::kOk);
  ASSERT_EQ(manager->pinned_pool().deallocate(pinned), Status::kOk);
  manager.reset();  // each pool gives its region back
  ASSERT_EQ(log.size(), 4u);
  std::set<void*> unmapped;
  for (std::size_t i = 2; i < 4; ++i) {
    EXPECT_FALSE(log[i].mapped);
    unmapped.insert(log[i].region);
  }
  EXPECT_EQ(unmapped, (std::set<void*>{log[0].region, log[1].region}));
}

TEST_P(GpuDeviceManagerTest, AFailingBackendHookFailsTheManager) {
  DeviceManagerConfig config;
  config.wrap_backend = [](int device, std::shared_ptr<Backend>*) noexcept {
    return device < 0 ? fail(Status::kInternal, "no hook for the pinned pool") : Status::kOk;
  };
  std::unique_ptr<DeviceManager> refused;
  EXPECT_EQ(DeviceManager::create(runtime_, config, &refused), Status::kInternal);
  EXPECT_STREQ(error_detail(), "no hook for the pinned pool");
  EXPECT_EQ(refused, nullptr);
}

NATIVEPOOL_ON_ALL_RUNTIMES(GpuDeviceManagerTest);

TEST(GpuDeviceManagerNoDeviceTest, ARuntimeWithoutDevicesIsRefusedPlainly) {
  std::shared_ptr<DeviceRuntime> cuda;
  if (!cuda_compiled()) {
    GTEST_SKIP() << "CUDA is not compiled into this build";
  }
  ASSERT_EQ(cuda_runtime(&cuda), Status::kOk);
  if (cuda->device_count() > 0) {
    GTEST_SKIP() << "a CUDA device is present; this checks the no-device path";
  }
  std::unique_ptr<DeviceManager> manager;
  EXPECT_EQ(DeviceManager::create(cuda, DeviceManagerConfig{}, &manager), Status::kNoDevice);
  EXPECT_EQ(std::string(error_detail()).rfind("no CUDA device: ", 0), 0u) << error_detail();
}

}  // namespace
}  // namespace nativepool::gpu
