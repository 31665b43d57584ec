// SPDX-License-Identifier: Apache-2.0
// PersistentHeap's growth: grow() and auto-grow keep offsets and contents,
// map the file anew (the old mapping still reaching the same bytes), refuse
// what they cannot do without changing anything, a full disk included, and
// the growth record survives a damaged copy and a grow cut short. Crashes
// during grows are in persistent_crash_test.cpp (the workload grows).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "nativepool/persistent_heap.hpp"
#include "persistent_files.hpp"

namespace nativepool {
namespace {

using persistent_files::read_all;
using persistent_files::write_all;

constexpr std::uint64_t kCapacity = 256 << 10;
constexpr std::uint64_t kGrowthCopies[2] = {2048, 3072};  // the record's two copies in page 0

std::uint64_t file_size(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
}

class PersistentGrowthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = persistent_files::temp_directory("np-grow");
    path_ = dir_ + "/heap";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<PersistentHeap> create(std::uint64_t max_capacity = 0) {
    PersistentOptions options;
    options.capacity = kCapacity;
    options.max_capacity = max_capacity;
    std::unique_ptr<PersistentHeap> heap;
    EXPECT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk) << error_detail();
    return heap;
  }
  std::unique_ptr<PersistentHeap> reopen() {
    std::unique_ptr<PersistentHeap> heap;
    EXPECT_EQ(PersistentHeap::open(path_.c_str(), {}, &heap), Status::kOk) << error_detail();
    return heap;
  }
  // Nothing a refused grow could have touched changed.
  void expect_unchanged(PersistentHeap& heap, const PersistentStats& before) {
    const PersistentStats after = heap.stats();
    EXPECT_EQ(after.capacity, before.capacity);
    EXPECT_EQ(after.heap_bytes, before.heap_bytes);
    EXPECT_EQ(after.free_bytes, before.free_bytes);
    EXPECT_EQ(after.grows, before.grows);
    EXPECT_EQ(heap.mappings(), 0U);
    EXPECT_EQ(file_size(path_), before.capacity);
    EXPECT_EQ(heap.validate(), Status::kOk) << error_detail();
  }

  std::string dir_;
  std::string path_;
};

TEST_F(PersistentGrowthTest, GrowKeepsOffsetsAndContentsAndMapsTheFileAnew) {
  auto heap = create();
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(100, PersistentHeap::root_slot(0), &block), Status::kOk);
  auto* old_address = static_cast<char*>(heap->address(block));
  std::memcpy(old_address, "before the grow", 16);
  const std::uint64_t heap_bytes = heap->stats().heap_bytes;

  ASSERT_EQ(heap->grow(2 * kCapacity), Status::kOk) << error_detail();
  EXPECT_EQ(heap->capacity(), 2 * kCapacity);
  EXPECT_EQ(file_size(path_), 2 * kCapacity);
  EXPECT_EQ(heap->mappings(), 1U);
  EXPECT_EQ(heap->root(0), block) << "offsets do not move";
  auto* new_address = static_cast<char*>(heap->address(block));
  EXPECT_NE(new_address, old_address) << "a grow maps the file anew";
  EXPECT_STREQ(new_address, "before the grow");
  // The old mapping stays until close, on the same bytes.
  std::memcpy(old_address, "through the old", 16);
  EXPECT_STREQ(new_address, "through the old");
  EXPECT_EQ(heap->view(block, 100), new_address);

  const PersistentStats stats = heap->stats();
  EXPECT_EQ(stats.grows, 1U);
  EXPECT_GT(stats.heap_bytes, heap_bytes + kCapacity * 8 / 9 - 2 * PersistentHeap::kPage);
  EXPECT_EQ(stats.free_extents, 2U) << "segment 0's free space and the new segment's never merge";
  // A block larger than segment 0's free space lands in the new segment.
  std::uint64_t big = 0;
  ASSERT_EQ(heap->allocate(heap_bytes, PersistentHeap::root_slot(1), &big), Status::kOk) << error_detail();
  EXPECT_GT(big, kCapacity);
  std::memset(heap->address(big), 0x5A, heap_bytes);
  ASSERT_EQ(heap->persist(big, 0, heap_bytes), Status::kOk);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  heap.reset();

  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), 2 * kCapacity);
  EXPECT_EQ(heap->stats().grows, 1U);
  EXPECT_STREQ(static_cast<const char*>(heap->address(block)), "through the old");
  EXPECT_EQ(heap->block_size(big), heap_bytes);
  EXPECT_EQ(static_cast<const unsigned char*>(heap->address(big))[heap_bytes - 1], 0x5A);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  ASSERT_EQ(heap->free(PersistentHeap::root_slot(1)), Status::kOk);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentGrowthTest, BadCapacitiesAreRefusedAndChangeNothing) {
  auto heap = create();
  const PersistentStats before = heap->stats();
  EXPECT_EQ(heap->grow(kCapacity + (64 << 10) + 1), Status::kInvalidArgument);
  EXPECT_EQ(heap->grow(kCapacity + (60 << 10)), Status::kInvalidArgument) << "less than 64 KiB more";
  EXPECT_EQ(heap->grow(kCapacity / 2), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("at least 65536 more"), std::string::npos) << error_detail();
  expect_unchanged(*heap, before);

  PersistentOptions options;
  options.capacity = kCapacity;
  options.max_capacity = kCapacity * 2 + 100;
  std::unique_ptr<PersistentHeap> other;
  EXPECT_EQ(PersistentHeap::create((dir_ + "/other").c_str(), options, &other), Status::kInvalidArgument);
  EXPECT_NE(access((dir_ + "/other").c_str(), F_OK), 0);
  heap.reset();
  EXPECT_EQ(PersistentHeap::open(path_.c_str(), options, &other), Status::kInvalidArgument);
}

TEST_F(PersistentGrowthTest, AFullDiskFailsTheGrowAndChangesNothing) {
  auto heap = create();
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &block), Status::kOk);
  const PersistentStats before = heap->stats();
  const std::vector<char> bytes = read_all(path_);
  // A file system too small for the capacity (as at create).
  const Status status = heap->grow(std::uint64_t{1} << 50);
  EXPECT_TRUE(status == Status::kOutOfPoolMemory || status == Status::kIoError) << status_name(status);
  expect_unchanged(*heap, before);
  EXPECT_EQ(read_all(path_), bytes);
  std::uint64_t another = 0;
  EXPECT_EQ(heap->allocate(64, PersistentHeap::root_slot(1), &another), Status::kOk) << "the heap still works";
  heap.reset();
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), kCapacity);
}

TEST_F(PersistentGrowthTest, AutoGrowDoublesUpToTheMaximum) {
  constexpr std::uint64_t kMax = 4 * kCapacity + (64 << 10);
  auto heap = create(kMax);
  // 4 KiB blocks in fields of a directory block until nothing fits.
  std::uint64_t directory = 0;
  ASSERT_EQ(heap->allocate(8 * 512, PersistentHeap::root_slot(0), &directory), Status::kOk);
  std::uint64_t count = 0;
  Status status = Status::kOk;
  std::vector<std::uint64_t> capacities;
  for (; count < 512; ++count) {
    std::uint64_t block = 0;
    status = heap->allocate(4096, directory + 8 * count, &block);
    if (status != Status::kOk) break;
    if (capacities.empty() || capacities.back() != heap->capacity()) capacities.push_back(heap->capacity());
  }
  EXPECT_EQ(status, Status::kOutOfPoolMemory) << "the maximum stops it";
  EXPECT_NE(std::string(error_detail()).find("growing"), std::string::npos) << error_detail();
  // Doubling, then what is left up to the maximum.
  EXPECT_EQ(capacities, (std::vector<std::uint64_t>{kCapacity, 2 * kCapacity, 4 * kCapacity, kMax}));
  EXPECT_GT(count, 4 * kCapacity / 4096 * 3 / 4);
  EXPECT_EQ(heap->stats().grows, 3U);
  EXPECT_EQ(heap->mappings(), 3U);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  heap.reset();
  // Auto-grow is an open option, not the file's: without it the heap stays.
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), kMax);
  EXPECT_EQ(heap->stats().live_blocks, count + 1);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentGrowthTest, AGrowInsideATransactionOutlivesItsAbort) {
  auto heap = create(4 * kCapacity);
  ASSERT_EQ(heap->begin(), Status::kOk);
  std::uint64_t block = 0;
  ASSERT_EQ(heap->tx_allocate(kCapacity, &block), Status::kOk) << error_detail();
  EXPECT_GT(block, kCapacity) << "only the grown segment holds it";
  ASSERT_EQ(heap->tx_set_root(0, block), Status::kOk);
  ASSERT_EQ(heap->abort(), Status::kOk);
  EXPECT_EQ(heap->root(0), 0U);
  EXPECT_EQ(heap->stats().live_blocks, 0U);
  EXPECT_GT(heap->capacity(), kCapacity) << "a grow is not part of the transaction";
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentGrowthTest, TheGrowthRecordBoundsTheGrows) {
  auto heap = create();
  std::uint64_t capacity = kCapacity;
  for (std::size_t i = 0; i < PersistentHeap::kMaxGrows; ++i) {
    capacity += 64 << 10;
    ASSERT_EQ(heap->grow(capacity), Status::kOk) << "grow " << i << ": " << error_detail();
  }
  const PersistentStats before = heap->stats();
  EXPECT_EQ(heap->grow(capacity + (64 << 10)), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("create a larger one"), std::string::npos) << error_detail();
  EXPECT_EQ(heap->stats().capacity, before.capacity);
  EXPECT_EQ(file_size(path_), capacity);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  heap.reset();
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->stats().grows, PersistentHeap::kMaxGrows);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentGrowthTest, WhatAnInterruptedGrowLeftPastTheCapacityIsDiscarded) {
  create().reset();
  // A grow killed after posix_fallocate: the file is longer than the
  // heap, and here its tail is not even zeros.
  std::vector<char> bytes = read_all(path_);
  bytes.resize(bytes.size() + (128 << 10), '\x7F');
  write_all(path_, bytes);
  auto heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), kCapacity) << "the growth record was never written";
  ASSERT_EQ(heap->grow(kCapacity + (64 << 10)), Status::kOk) << error_detail();
  EXPECT_EQ(file_size(path_), kCapacity + (64 << 10));
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  heap.reset();
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->validate(), Status::kOk) << "the new segment's table was zeroed";
}

TEST_F(PersistentGrowthTest, ADamagedCopyOfTheGrowthRecordLosesNothingTwoAreRefused) {
  auto heap = create();
  ASSERT_EQ(heap->grow(2 * kCapacity), Status::kOk);
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(kCapacity / 2, PersistentHeap::root_slot(0), &block), Status::kOk);
  heap.reset();
  std::vector<char> bytes = read_all(path_);
  bytes[kGrowthCopies[0] + 8] ^= 4;  // copy 0's count
  write_all(path_, bytes);
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), 2 * kCapacity) << "copy 1 stands in";
  EXPECT_EQ(heap->block_size(block), kCapacity / 2);
  heap.reset();
  bytes = read_all(path_);
  bytes[kGrowthCopies[0] + 8] ^= 4;
  bytes[kGrowthCopies[1] + 24] ^= 1;  // copy 1's first end
  write_all(path_, bytes);
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), 2 * kCapacity) << "copy 0 stands in";
  heap.reset();
  bytes = read_all(path_);
  bytes[kGrowthCopies[0] + 8] ^= 4;
  write_all(path_, bytes);
  std::unique_ptr<PersistentHeap> refused;
  EXPECT_EQ(PersistentHeap::open(path_.c_str(), {}, &refused), Status::kCorrupted);
  EXPECT_NE(std::string(error_detail()).find("growth record"), std::string::npos) << error_detail();
  EXPECT_EQ(read_all(path_), bytes) << "a refused file is not modified";
}

TEST_F(PersistentGrowthTest, GroupCommitGrowsReopenOnTheSameBoot) {
  PersistentOptions options;
  options.capacity = kCapacity;
  options.group_commit = true;
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk);
  ASSERT_EQ(heap->grow(2 * kCapacity), Status::kOk) << error_detail();
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(kCapacity / 2, PersistentHeap::root_slot(0), &block), Status::kOk);
  ASSERT_EQ(heap->flush(), Status::kOk);
  heap.reset();
  heap = reopen();
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->capacity(), 2 * kCapacity);
  EXPECT_EQ(heap->block_size(block), kCapacity / 2);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

}  // namespace
}  // namespace nativepool
