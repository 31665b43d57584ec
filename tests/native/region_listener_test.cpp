// SPDX-License-Identifier: Apache-2.0
// Region events: a listener sees every region a pool maps and unmaps, over
// every backend, with no hook in the pools.
#include "nativepool/region_listener.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "backend_cases.hpp"
#include "nativepool/backends.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

/// Records the regions currently mapped, and fails on an unmap of a region it never saw mapped.
class Recorder final : public RegionListener {
 public:
  void mapped(void* region, std::size_t size) noexcept override {
    const std::lock_guard lock(mutex_);
    EXPECT_TRUE(live_.emplace(reinterpret_cast<std::uintptr_t>(region), size).second) << "mapped twice";
    ++maps_;
  }
  void unmapped(void* region, std::size_t size) noexcept override {
    const std::lock_guard lock(mutex_);
    const auto found = live_.find(reinterpret_cast<std::uintptr_t>(region));
    ASSERT_NE(found, live_.end()) << "unmapped a region never mapped";
    EXPECT_EQ(found->second, size);
    live_.erase(found);
    ++unmaps_;
  }
  std::size_t live() const {
    const std::lock_guard lock(mutex_);
    return live_.size();
  }
  bool covers(const void* address) const {
    const std::lock_guard lock(mutex_);
    const auto a = reinterpret_cast<std::uintptr_t>(address);
    auto next = live_.upper_bound(a);
    return next != live_.begin() && a - std::prev(next)->first < std::prev(next)->second;
  }
  int maps_ = 0;
  int unmaps_ = 0;

 private:
  mutable std::mutex mutex_;
  std::map<std::uintptr_t, std::size_t> live_;
};

class RegionEvents : public ::testing::TestWithParam<testing_backends::Source> {};
INSTANTIATE_TEST_SUITE_P(Backends, RegionEvents, ::testing::ValuesIn(testing_backends::kSources),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_P(RegionEvents, EveryRegionAPoolMapsIsReportedUntilTrimUnmapsIt) {
  auto recorder = std::make_shared<Recorder>();
  auto backend = std::make_shared<ListenedBackend>(GetParam().make(), recorder);
  for (const SafetyLevel level : {SafetyLevel::kOff, SafetyLevel::kFull}) {
    VariablePoolConfig config;
    config.arena_size = 64 << 10;
    std::unique_ptr<Pool> pool;
    ASSERT_EQ(make_variable_pool(config, ThreadSafety::kMutex, backend, &pool, level), Status::kOk) << error_detail();
    std::vector<void*> blocks(40);
    for (void*& block : blocks) {
      ASSERT_EQ(pool->allocate(4000, 16, &block), Status::kOk) << error_detail();
      EXPECT_TRUE(recorder->covers(block)) << "each block lies in a region the listener was told of";
    }
    EXPECT_EQ(recorder->live(), pool->stats().reserved.regions);
    for (void* block : blocks) ASSERT_EQ(pool->deallocate(block), Status::kOk);
    pool->trim();
    EXPECT_EQ(recorder->live(), 0u);
    EXPECT_EQ(recorder->maps_, recorder->unmaps_);
  }
  EXPECT_GT(recorder->maps_, 2);
}

TEST(RegionListenerRegistry, ListenedBackendsAreBuiltPerPoolOverTheirBackend) {
  auto recorder = std::make_shared<Recorder>();
  int id = -1;
  ASSERT_EQ(register_listener(BackendType::kMmap, 0, recorder, &id), Status::kOk) << error_detail();
  std::shared_ptr<Backend> backend;
  ASSERT_EQ(make_backend(BackendType::kListened, id, &backend), Status::kOk) << error_detail();
  EXPECT_EQ(backend->name(), "mmap");
  void* region = nullptr;
  ASSERT_EQ(backend->allocate(1 << 16, 4096, &region), Status::kOk);
  EXPECT_EQ(recorder->live(), 1u);
  backend->deallocate(region, 1 << 16, 4096);
  EXPECT_EQ(recorder->live(), 0u);
  EXPECT_EQ(register_listener(BackendType::kNodeLocal, 0, recorder, &id), Status::kInvalidArgument);
  EXPECT_EQ(register_listener(BackendType::kMmap, 0, nullptr, &id), Status::kInvalidArgument);
  EXPECT_EQ(register_listener(BackendType::kNuma, 1 << 20, recorder, &id), Status::kInvalidArgument);
}

}  // namespace
}  // namespace nativepool
