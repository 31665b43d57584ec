// SPDX-License-Identifier: Apache-2.0
// What the gpu_*_test suites share: the runtimes every suite runs against
// (the simulation always, CUDA when a device is present) and a gate that
// holds a stream at a known point.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "nativepool/gpu/device_runtime.hpp"
#include "nativepool/gpu/runtimes.hpp"

namespace nativepool::gpu::testing {

inline constexpr std::size_t kSimulatedCapacity = std::size_t{64} << 20;

/// Test parameter: "simulated" or "cuda".
inline std::string runtime_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

/// A fixture base that provides `runtime_`, skipping the CUDA instance with a
/// stated reason when there is no device. @p min_devices: the suite needs
/// that many (the simulation always has 2).
class RuntimeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SetUpRuntime(1); }

  void SetUpRuntime(int min_devices) {
    if (GetParam() == "simulated") {
      ASSERT_EQ(make_simulated_runtime(2, kSimulatedCapacity, &runtime_), Status::kOk);
      return;
    }
    if (!cuda_compiled()) {
      GTEST_SKIP() << "no CUDA device: CUDA is not compiled into this build";
    }
    ASSERT_EQ(cuda_runtime(&runtime_), Status::kOk);
    if (runtime_->device_count() == 0) {
      GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
    }
    if (runtime_->device_count() < min_devices) {
      GTEST_SKIP() << "needs " << min_devices << " CUDA devices, found " << runtime_->device_count();
    }
  }

  std::shared_ptr<DeviceRuntime> runtime_;
};

#define NATIVEPOOL_ON_ALL_RUNTIMES(suite) \
  INSTANTIATE_TEST_SUITE_P(Runtimes, suite, ::testing::Values("simulated", "cuda"), \
                           ::nativepool::gpu::testing::runtime_name)

/// Holds a stream while closed: enqueue() puts a host callback on the stream
/// that waits for open(). The destructor opens the gate and waits until every
/// callback has left it, so no stream thread touches a destroyed gate.
class Gate {
 public:
  ~Gate() {
    open();
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return pending_ == 0; });
  }

  void enqueue(DeviceRuntime& runtime, Stream stream) {
    {
      std::lock_guard lock(mutex_);
      ++pending_;
    }
    ASSERT_EQ(runtime.host_callback(stream, &Gate::wait, this), Status::kOk);
  }

  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }

 private:
  static void wait(void* self) {
    auto* gate = static_cast<Gate*>(self);
    std::unique_lock lock(gate->mutex_);
    gate->changed_.wait(lock, [&] { return gate->open_; });
    --gate->pending_;
    // Notified under the lock: the destructor cannot finish before this returns.
    gate->changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int pending_ = 0;
};

}  // namespace nativepool::gpu::testing
