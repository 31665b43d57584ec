// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "nativepool/backends.hpp"
#include "nativepool/host_backend.hpp"

namespace nativepool {
namespace {

bool aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

class HostBackendTest : public ::testing::TestWithParam<BackendType> {};

TEST_P(HostBackendTest, RegionsAreAlignedAndWritable) {
  std::shared_ptr<Backend> backend;
  ASSERT_EQ(make_backend(GetParam(), 0, &backend), Status::kOk);
  EXPECT_EQ(backend->kind(), MemoryKind::kHost);
  EXPECT_TRUE(backend->host_accessible());
  for (std::size_t alignment : {std::size_t{8}, std::size_t{64}, std::size_t{4096}, std::size_t{1} << 21}) {
    void* region = nullptr;
    ASSERT_EQ(backend->allocate(3 * 4096 + 5, alignment, &region), Status::kOk) << error_detail();
    EXPECT_TRUE(aligned(region, alignment)) << alignment;
    std::memset(region, 0xAB, 3 * 4096 + 5);
    backend->deallocate(region, 3 * 4096 + 5, alignment);
  }
}

TEST_P(HostBackendTest, BadRequestsFailWithADetail) {
  std::shared_ptr<Backend> backend;
  ASSERT_EQ(make_backend(GetParam(), 0, &backend), Status::kOk);
  void* region = nullptr;
  EXPECT_EQ(backend->allocate(0, 64, &region), Status::kInvalidArgument);
  EXPECT_EQ(backend->allocate(64, 48, &region), Status::kInvalidArgument);
  EXPECT_NE(std::strstr(error_detail(), "alignment 48"), nullptr) << error_detail();
  EXPECT_EQ(backend->allocate(SIZE_MAX - 10, 64, &region), Status::kOutOfPoolMemory);
  EXPECT_EQ(region, nullptr);
}

INSTANTIATE_TEST_SUITE_P(AllHostBackends, HostBackendTest,
                         ::testing::Values(BackendType::kMalloc, BackendType::kMmap, BackendType::kMmapHugePages));

TEST(MakeBackend, UnknownTypeIsAnInvalidArgument) {
  std::shared_ptr<Backend> backend;
  EXPECT_EQ(make_backend(static_cast<BackendType>(999), 0, &backend), Status::kInvalidArgument);
  EXPECT_EQ(backend, nullptr);
}

TEST(MmapBackend, NamesSayWhetherHugePagesAreRequested) {
  EXPECT_EQ(MmapBackend(false).name(), "mmap");
  EXPECT_EQ(MmapBackend(true).name(), "mmap+thp");
}

}  // namespace
}  // namespace nativepool
