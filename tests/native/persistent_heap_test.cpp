// SPDX-License-Identifier: Apache-2.0
// PersistentHeap: create and reopen, every refusal of a bad file (which must
// leave it untouched), the atomic operations, transactions and validate().
// Crash recovery is exercised in persistent_crash_test.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>
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

class PersistentHeapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = persistent_files::temp_directory("np-heap");
    path_ = dir_ + "/heap";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<PersistentHeap> create(std::uint64_t capacity = 256 << 10) {
    PersistentOptions options;
    options.capacity = capacity;
    std::unique_ptr<PersistentHeap> heap;
    EXPECT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk) << error_detail();
    return heap;
  }
  Status reopen(std::unique_ptr<PersistentHeap>* heap, PersistentOptions options = {}) {
    return PersistentHeap::open(path_.c_str(), options, heap);
  }
  // The refusal leaves the file byte for byte as it was.
  void expect_refused(Status expected, const char* detail_part) {
    const std::vector<char> before = read_all(path_);
    std::unique_ptr<PersistentHeap> heap;
    EXPECT_EQ(reopen(&heap), expected) << error_detail();
    EXPECT_NE(std::string(error_detail()).find(detail_part), std::string::npos) << error_detail();
    EXPECT_EQ(heap, nullptr);
    EXPECT_EQ(read_all(path_), before);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(PersistentHeapTest, CreateReopenKeepsBlocksRootsAndContents) {
  std::uint64_t block = 0;
  {
    auto heap = create();
    ASSERT_EQ(heap->allocate(100, PersistentHeap::root_slot(3), &block), Status::kOk) << error_detail();
    EXPECT_EQ(heap->root(3), block);
    EXPECT_EQ(block % PersistentHeap::kUnit, 0U);
    std::memcpy(heap->address(block), "persistent", 11);
    ASSERT_EQ(heap->persist(block, 0, 11), Status::kOk);
    EXPECT_EQ(heap->stats().bytes_in_use, 100U);
  }
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(reopen(&heap), Status::kOk) << error_detail();
  EXPECT_EQ(heap->root(3), block);
  EXPECT_EQ(heap->block_size(block), 100U);
  EXPECT_STREQ(static_cast<const char*>(heap->address(block)), "persistent");
  const PersistentStats stats = heap->stats();
  EXPECT_EQ(stats.live_blocks, 1U);
  EXPECT_EQ(stats.bytes_in_use, 100U);
  EXPECT_EQ(stats.units_in_use, 2U);
  EXPECT_EQ(stats.free_bytes + 128, stats.heap_bytes);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentHeapTest, ReportsItsDurabilityMode) {
  auto heap = create();
  // tmpfs and ordinary disks refuse MAP_SYNC; only DAX gets cache flushes.
  EXPECT_STREQ(durability_name(heap->durability()), "msync");
  EXPECT_FALSE(heap->group_commit());
}

TEST_F(PersistentHeapTest, CreateRefusesBadOptionsAndExistingFiles) {
  PersistentOptions options;
  std::unique_ptr<PersistentHeap> heap;
  options.capacity = 4096;
  EXPECT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kInvalidArgument);
  options.capacity = (256 << 10) + 1;
  EXPECT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kInvalidArgument);
  options.capacity = 256 << 10;
  options.undo_log_bytes = 100;
  EXPECT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kInvalidArgument);
  EXPECT_NE(access(path_.c_str(), F_OK), 0) << "a refused create leaves no file";
  options.undo_log_bytes = 4096;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk);
  heap.reset();
  EXPECT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("exists"), std::string::npos);
}

TEST_F(PersistentHeapTest, AFullDiskFailsAtCreateNotLater) {
  // /dev/full-like: a file system too small for the capacity.
  PersistentOptions options;
  options.capacity = std::uint64_t{1} << 50;
  std::unique_ptr<PersistentHeap> heap;
  const Status status = PersistentHeap::create(path_.c_str(), options, &heap);
  EXPECT_TRUE(status == Status::kOutOfPoolMemory || status == Status::kIoError) << status_name(status);
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

TEST_F(PersistentHeapTest, NotAPool) {
  write_all(path_, std::vector<char>(8192, 'x'));
  expect_refused(Status::kNotAPool, "not a persistent heap");
  write_all(path_, {});
  expect_refused(Status::kNotAPool, "not a persistent heap");
}

TEST_F(PersistentHeapTest, Truncated) {
  create().reset();
  std::vector<char> bytes = read_all(path_);
  bytes.resize(bytes.size() - 4096);
  write_all(path_, bytes);
  expect_refused(Status::kTruncated, "the file only");
  bytes.resize(20);
  write_all(path_, bytes);
  expect_refused(Status::kTruncated, "cut short");
}

TEST_F(PersistentHeapTest, OtherVersion) {
  create().reset();
  std::vector<char> bytes = read_all(path_);
  bytes[8] = 7;  // the version field
  write_all(path_, bytes);
  expect_refused(Status::kVersionMismatch, "format version 7");
}

TEST_F(PersistentHeapTest, BadHeaderChecksum) {
  create().reset();
  std::vector<char> bytes = read_all(path_);
  bytes[20] ^= 1;  // inside the capacity field
  write_all(path_, bytes);
  expect_refused(Status::kChecksumMismatch, "header checksum");
}

TEST_F(PersistentHeapTest, AlreadyOpenHereAndInAnotherProcess) {
  auto heap = create();
  expect_refused(Status::kAlreadyOpen, "already open");
  const pid_t child = fork();
  if (child == 0) {
    std::unique_ptr<PersistentHeap> other;
    _exit(PersistentHeap::open(path_.c_str(), {}, &other) == Status::kAlreadyOpen ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  heap.reset();
  std::unique_ptr<PersistentHeap> again;
  EXPECT_EQ(reopen(&again), Status::kOk) << "closing releases the lock";
}

TEST_F(PersistentHeapTest, ACorruptTableEntryIsRefusedBeforeAnyWrite) {
  std::uint64_t block = 0;
  std::uint64_t table_entry = 0;
  {
    auto heap = create();
    ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &block), Status::kOk);
    // The table sits after three pages and the default 64 KiB undo log.
    table_entry = 3 * 4096 + (64 << 10);
  }
  std::vector<char> bytes = read_all(path_);
  bytes[table_entry + 5] ^= 0x10;
  write_all(path_, bytes);
  expect_refused(Status::kCorrupted, "fails its check");
}

TEST_F(PersistentHeapTest, PublishIntoAFieldAndFreeAndClear) {
  auto heap = create();
  std::uint64_t parent = 0;
  ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &parent), Status::kOk);
  PersistentReservation child;
  ASSERT_EQ(heap->reserve(200, &child), Status::kOk);
  std::memset(heap->address(child.offset), 0xAB, 200);
  EXPECT_EQ(heap->stats().live_blocks, 1U) << "a reservation is not in the table";
  ASSERT_EQ(heap->publish(child, parent + 8), Status::kOk) << error_detail();
  std::uint64_t field;
  std::memcpy(&field, heap->address(parent + 8), 8);
  EXPECT_EQ(field, child.offset);
  EXPECT_EQ(heap->publish(child, parent + 16), Status::kInvalidArgument) << "published already";
  // Destinations: not inside a block, not unaligned, not holding a block.
  std::uint64_t other = 0;
  EXPECT_EQ(heap->allocate(8, parent + 4, &other), Status::kInvalidArgument);
  EXPECT_EQ(heap->allocate(8, parent + 64, &other), Status::kInvalidArgument);
  EXPECT_EQ(heap->allocate(8, parent + 8, &other), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("free it first"), std::string::npos);
  EXPECT_EQ(heap->allocate(0, parent + 16, &other), Status::kInvalidArgument);
  EXPECT_EQ(heap->stats().live_blocks, 2U) << "refusals change nothing";
  ASSERT_EQ(heap->free(parent + 8), Status::kOk);
  std::memcpy(&field, heap->address(parent + 8), 8);
  EXPECT_EQ(field, 0U);
  EXPECT_EQ(heap->free(parent + 8), Status::kDoubleFree);
  EXPECT_EQ(heap->block_size(child.offset), 0U);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  PersistentReservation dropped;
  ASSERT_EQ(heap->reserve(300, &dropped), Status::kOk);
  EXPECT_EQ(heap->cancel(dropped), Status::kOk);
  EXPECT_EQ(heap->cancel(dropped), Status::kInvalidArgument);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentHeapTest, ExhaustionAndCoalescing) {
  auto heap = create();
  const std::uint64_t all = heap->stats().heap_bytes;
  std::uint64_t a = 0, b = 0, c = 0;
  ASSERT_EQ(heap->allocate(all / 4, PersistentHeap::root_slot(0), &a), Status::kOk);
  ASSERT_EQ(heap->allocate(all / 4, PersistentHeap::root_slot(1), &b), Status::kOk);
  ASSERT_EQ(heap->allocate(all / 4, PersistentHeap::root_slot(2), &c), Status::kOk);
  std::uint64_t d = 0;
  EXPECT_EQ(heap->allocate(all / 2, PersistentHeap::root_slot(3), &d), Status::kOutOfPoolMemory);
  ASSERT_EQ(heap->free(PersistentHeap::root_slot(1)), Status::kOk);
  ASSERT_EQ(heap->free(PersistentHeap::root_slot(0)), Status::kOk);
  EXPECT_EQ(heap->allocate(all / 2, PersistentHeap::root_slot(3), &d), Status::kOk) << "neighbours merged";
  EXPECT_EQ(d, a);
  EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
}

TEST_F(PersistentHeapTest, PersistChecksItsRange) {
  auto heap = create();
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(100, PersistentHeap::root_slot(0), &block), Status::kOk);
  EXPECT_EQ(heap->persist(block, 0, 100), Status::kOk);
  EXPECT_EQ(heap->persist(block, 50, 51), Status::kInvalidArgument);
  EXPECT_EQ(heap->persist(block, 0, 0), Status::kInvalidArgument);
  EXPECT_EQ(heap->persist(block + 64, 0, 8), Status::kInvalidFree);
  EXPECT_EQ(heap->persist(0, PersistentHeap::root_slot(0), 8), Status::kOk) << "block 0 names the roots";
}

TEST_F(PersistentHeapTest, CommittedTransactionsStayAbortedOnesVanish) {
  std::uint64_t counter_block = 0;
  {
    auto heap = create();
    ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &counter_block), Status::kOk);
    auto* counter = static_cast<std::uint64_t*>(heap->address(counter_block));
    ASSERT_EQ(heap->begin(), Status::kOk);
    EXPECT_EQ(heap->begin(), Status::kInvalidArgument);
    ASSERT_EQ(heap->snapshot(counter_block, 0, 8), Status::kOk);
    *counter = 41;
    std::uint64_t fresh = 0;
    ASSERT_EQ(heap->tx_allocate(500, &fresh), Status::kOk);
    ASSERT_EQ(heap->tx_set_root(1, fresh), Status::kOk);
    std::uint64_t refused = 0;
    EXPECT_EQ(heap->allocate(8, PersistentHeap::root_slot(2), &refused), Status::kInvalidArgument)
        << "atomic operations wait for the transaction";
    ASSERT_EQ(heap->commit(), Status::kOk);

    ASSERT_EQ(heap->begin(), Status::kOk);
    ASSERT_EQ(heap->snapshot(counter_block, 0, 8), Status::kOk);
    *counter = 99;
    ASSERT_EQ(heap->tx_free(fresh), Status::kOk);
    EXPECT_EQ(heap->tx_free(fresh), Status::kInvalidFree);
    ASSERT_EQ(heap->tx_set_root(1, 0), Status::kOk);
    std::uint64_t vanishing = 0;
    ASSERT_EQ(heap->tx_allocate(64, &vanishing), Status::kOk);
    ASSERT_EQ(heap->abort(), Status::kOk);
    EXPECT_EQ(*counter, 41U);
    EXPECT_EQ(heap->root(1), fresh);
    EXPECT_EQ(heap->block_size(fresh), 500U);
    EXPECT_EQ(heap->block_size(vanishing), 0U);
    EXPECT_EQ(heap->stats().live_blocks, 2U);
    EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  }
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(reopen(&heap), Status::kOk) << error_detail();
  EXPECT_EQ(*static_cast<std::uint64_t*>(heap->address(counter_block)), 41U);
  EXPECT_EQ(heap->stats().live_blocks, 2U);
  EXPECT_EQ(heap->stats().recovered_undo, 0U);
}

TEST_F(PersistentHeapTest, AnOpenTransactionIsRolledBackOnClose) {
  std::uint64_t block = 0;
  {
    auto heap = create();
    ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &block), Status::kOk);
    ASSERT_EQ(heap->begin(), Status::kOk);
    ASSERT_EQ(heap->snapshot(block, 0, 64), Status::kOk);
    std::memset(heap->address(block), 0xFF, 64);
  }
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(reopen(&heap), Status::kOk);
  EXPECT_EQ(*static_cast<unsigned char*>(heap->address(block)), 0);
}

// Found by persistent_open_fuzz: the root check can only run on the
// recovered heap, and a refusal there used to keep the rolled-back bytes.
TEST_F(PersistentHeapTest, ARefusalAfterRecoveryPutsBackWhatRecoveryWrote) {
  std::uint64_t block = 0;
  std::vector<char> mid_transaction;
  {
    auto heap = create();
    ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &block), Status::kOk);
    ASSERT_EQ(heap->begin(), Status::kOk);
    ASSERT_EQ(heap->snapshot(block, 0, 64), Status::kOk);
    std::memset(heap->address(block), 0xFF, 64);
    ASSERT_EQ(heap->tx_set_root(1, block), Status::kOk);
    mid_transaction = read_all(path_);
  }
  const std::uint64_t bad_root = 1;  // no block starts there
  std::memcpy(&mid_transaction[PersistentHeap::root_slot(2)], &bad_root, 8);
  write_all(path_, mid_transaction);
  expect_refused(Status::kCorrupted, "root 2 holds offset 1, which is no live block");

  std::memset(&mid_transaction[PersistentHeap::root_slot(2)], 0, 8);
  write_all(path_, mid_transaction);
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(reopen(&heap), Status::kOk) << error_detail();
  EXPECT_EQ(heap->stats().recovered_undo, 2U) << "the block's bytes and root 1";
  EXPECT_EQ(*static_cast<unsigned char*>(heap->address(block)), 0);
  EXPECT_EQ(heap->root(1), 0U);
}

TEST_F(PersistentHeapTest, TheUndoLogBoundsATransaction) {
  PersistentOptions options;
  options.capacity = 256 << 10;
  options.undo_log_bytes = 4096;
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk);
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(8192, PersistentHeap::root_slot(0), &block), Status::kOk);
  ASSERT_EQ(heap->begin(), Status::kOk);
  EXPECT_EQ(heap->snapshot(block, 0, 8192), Status::kOutOfPoolMemory);
  EXPECT_EQ(heap->snapshot(block, 0, 1024), Status::kOk) << "a refused snapshot leaves the transaction usable";
  EXPECT_EQ(heap->snapshot(block, 8000, 200), Status::kInvalidArgument);
  EXPECT_EQ(heap->commit(), Status::kOk);
  EXPECT_EQ(heap->snapshot(block, 0, 8), Status::kInvalidArgument) << "no transaction";
}

TEST_F(PersistentHeapTest, GroupCommitRefusesAFileARestartCaughtUnflushed) {
  PersistentOptions options;
  options.capacity = 256 << 10;
  options.group_commit = true;
  options.boot_id = "boot-one";  // test double for the kernel's boot id
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk);
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &block), Status::kOk);
  const std::uint64_t drains = heap->stats().persist_points;
  ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(1), &block), Status::kOk);
  EXPECT_EQ(heap->stats().persist_points, drains) << "operations defer their persist points";
  // A crash now (the image the page cache holds) on the same boot reopens;
  // after a restart the same image is refused.
  const std::vector<char> unflushed = read_all(path_);
  ASSERT_EQ(heap->flush(), Status::kOk);
  heap.reset();
  write_all(path_, unflushed);
  ASSERT_EQ(reopen(&heap, options), Status::kOk) << error_detail();
  EXPECT_EQ(heap->stats().live_blocks, 2U);
  heap.reset();
  write_all(path_, unflushed);
  options.boot_id = "boot-two";
  const std::vector<char> before = read_all(path_);
  EXPECT_EQ(reopen(&heap, options), Status::kCorrupted);
  EXPECT_NE(std::string(error_detail()).find("before flush()"), std::string::npos);
  EXPECT_EQ(read_all(path_), before);
  // Flushed, the file opens on any boot.
  options.boot_id = "boot-one";
  ASSERT_EQ(reopen(&heap, options), Status::kOk);
  ASSERT_EQ(heap->flush(), Status::kOk);
  heap.reset();
  options.boot_id = "boot-three";
  EXPECT_EQ(reopen(&heap, options), Status::kOk) << error_detail();
}

TEST_F(PersistentHeapTest, ARefusedOpenOfAnUnflushedFileWritesNothing) {
  PersistentOptions options;
  options.capacity = 256 << 10;
  options.group_commit = true;
  options.boot_id = "boot-one";
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk);
  std::uint64_t block = 0;
  ASSERT_EQ(heap->allocate(64, PersistentHeap::root_slot(0), &block), Status::kOk);
  std::vector<char> unflushed = read_all(path_);
  heap.reset();
  unflushed[3 * 4096 + (64 << 10) + 3] ^= 0x40;  // the block's table entry
  write_all(path_, unflushed);
  EXPECT_EQ(reopen(&heap, options), Status::kCorrupted);
  EXPECT_EQ(read_all(path_), unflushed) << "the group-commit word stays set";
}

}  // namespace
}  // namespace nativepool
