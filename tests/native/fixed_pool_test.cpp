// SPDX-License-Identifier: Apache-2.0
#include "nativepool/fixed_pool.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend_cases.hpp"
#include "nativepool/host_backend.hpp"

namespace nativepool {
namespace {

/// Regions the CPU must not touch: any read or write by the pool would crash
/// the test, which proves that metadata never lives in managed memory. The
/// mappings stay until the backend dies, so stale addresses stay untouchable.
class NoTouchBackend final : public Backend {
 public:
  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    void* region = ::mmap(nullptr, size + alignment, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return fail(Status::kOutOfPoolMemory, "mmap failed");
    const auto base = reinterpret_cast<std::uintptr_t>(region);
    *out = reinterpret_cast<void*>((base + alignment - 1) & ~(alignment - 1));
    std::lock_guard guard(mutex_);
    mappings_.emplace_back(region, size + alignment);
    return Status::kOk;
  }
  void deallocate(void*, std::size_t, std::size_t) noexcept override { released_.fetch_add(1); }
  MemoryKind kind() const noexcept override { return MemoryKind::kDevice; }
  std::string_view name() const noexcept override { return "no-touch"; }
  ~NoTouchBackend() override {
    for (const auto& [region, size] : mappings_) ::munmap(region, size);
  }
  std::atomic<int> released_{0};

 private:
  std::mutex mutex_;
  std::vector<std::pair<void*, std::size_t>> mappings_;
};

/// Host memory that counts what is outstanding and refuses once its region
/// budget is spent.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(int region_budget = std::numeric_limits<int>::max()) : budget_(region_budget) {}
  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    if (budget_.fetch_sub(1) <= 0) {
      budget_.fetch_add(1);
      return fail(Status::kOutOfPoolMemory, "test budget spent");
    }
    EXPECT_EQ(alignment % 64, 0u) << "chunks start on a cache line";
    if (Status status = inner_.allocate(size, alignment, out); status != Status::kOk) return status;
    regions_.fetch_add(1);
    bytes_.fetch_add(size);
    return Status::kOk;
  }
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override {
    regions_.fetch_sub(1);
    bytes_.fetch_sub(size);
    inner_.deallocate(region, size, alignment);
  }
  MemoryKind kind() const noexcept override { return MemoryKind::kHost; }
  std::string_view name() const noexcept override { return "counting"; }
  void add_budget(int regions) { budget_.fetch_add(regions); }
  std::atomic<std::int64_t> regions_{0};
  std::atomic<std::int64_t> bytes_{0};

 private:
  MallocBackend inner_;
  std::atomic<int> budget_;
};

/// What an erroneous call must leave exactly as it was.
struct Observed {
  std::uint64_t free_blocks;
  std::uint64_t bytes;
  std::uint64_t peak_bytes;
  std::uint64_t regions;
  bool operator==(const Observed&) const = default;
};

template <class Pool>
Observed observe(const Pool& pool) {
  const Reservation reserved = pool.reservation();
  return {pool.fragmentation().free_blocks, reserved.bytes, reserved.peak_bytes, reserved.regions};
}

bool contains(const char* text, const std::string& part) { return std::string(text).find(part) != std::string::npos; }

std::string hex(const void* ptr) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%" PRIxPTR, reinterpret_cast<std::uintptr_t>(ptr));
  return buffer;
}

// Every test runs in every mode over every backend of backend_cases.hpp; a
// test that needs a particular backend (counting, refusing) passes its own.
template <class ModeConstant>
class FixedPoolTest : public ::testing::Test {
 protected:
  static constexpr ThreadSafety kMode = ModeConstant::value;
  using Pool = FixedPool<kMode>;

  static std::unique_ptr<Pool> make(const FixedPoolConfig& config, std::shared_ptr<Backend> backend = nullptr) {
    if (!backend) backend = ModeConstant::backend();
    std::unique_ptr<Pool> pool;
    EXPECT_EQ(Pool::create(config, std::move(backend), &pool), Status::kOk) << error_detail();
    return pool;
  }
};

using Modes = testing_backends::AllBackends<ThreadSafety::kNone, ThreadSafety::kMutex, ThreadSafety::kLockFree>;
TYPED_TEST_SUITE(FixedPoolTest, Modes, testing_backends::CaseNames);

TYPED_TEST(FixedPoolTest, BlocksAreAlignedDistinctAndNonOverlapping) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{100, 64}, {1, 16}, {24, 8}, {3, 1}, {4096, 4096}};
  for (const auto& [size, align] : shapes) {
    auto pool = this->make({.block_size = size, .alignment = align, .blocks_per_chunk = 16});
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->stride(), (size + align - 1) / align * align);
    std::vector<std::uintptr_t> blocks;
    for (int i = 0; i < 50; ++i) {
      void* block = nullptr;
      ASSERT_EQ(pool->allocate(size, align, &block), Status::kOk) << error_detail();
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % align, 0u) << size << "/" << align;
      std::memset(block, i, size);
      blocks.push_back(reinterpret_cast<std::uintptr_t>(block));
    }
    std::sort(blocks.begin(), blocks.end());
    for (std::size_t i = 1; i < blocks.size(); ++i) {
      EXPECT_GE(blocks[i] - blocks[i - 1], size) << "blocks overlap";
    }
    EXPECT_EQ(pool->fragmentation().free_blocks, 64u - 50u);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
}

TYPED_TEST(FixedPoolTest, GrowsChunkByChunkToTheExactMaximumThenRecovers) {
  auto pool = this->make({.block_size = 32, .blocks_per_chunk = 8, .max_blocks = 20});
  EXPECT_EQ(pool->reservation().regions, 0u) << "nothing reserved before the first allocation";
  std::vector<void*> blocks;
  for (int i = 0; i < 20; ++i) {
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(32, 16, &block), Status::kOk) << i;
    blocks.push_back(block);
    EXPECT_EQ(pool->reservation().regions, static_cast<std::uint64_t>(i / 8 + 1));
  }
  EXPECT_EQ(pool->reservation().bytes, 20u * 32u) << "the last chunk holds only 4 blocks";
  const Observed full = observe(*pool);
  int sentinel = 0;
  void* extra = &sentinel;
  EXPECT_EQ(pool->allocate(32, 0, &extra), Status::kOutOfPoolMemory);
  EXPECT_TRUE(contains(error_detail(), "32-byte blocks")) << error_detail();
  EXPECT_TRUE(contains(error_detail(), "20 blocks in pool, max 20")) << error_detail();
  EXPECT_EQ(extra, &sentinel) << "out untouched on failure";
  EXPECT_EQ(observe(*pool), full);
  std::size_t freed = 0;
  ASSERT_EQ(pool->deallocate(blocks[5], &freed), Status::kOk);
  EXPECT_EQ(freed, 32u);
  ASSERT_EQ(pool->allocate(32, 0, &extra), Status::kOk);
  EXPECT_EQ(extra, blocks[5]) << "LIFO reuse";
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, ChunkSizesAreRoundedAndChosen) {
  {
    auto pool = this->make({.block_size = 64, .blocks_per_chunk = 5});
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
    EXPECT_EQ(pool->fragmentation().free_blocks, 7u) << "5 rounds up to 8";
  }
  {
    auto pool = this->make({.block_size = 1000});  // stride 1008: 1024 blocks fit in 1 MiB
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(1000, 0, &block), Status::kOk);
    EXPECT_EQ(pool->reservation().bytes, 1024u * 1008u);
    EXPECT_EQ(pool->fragmentation().free_blocks, 1023u);
  }
  {
    auto pool = this->make({.block_size = 3 << 20});  // larger than 1 MiB: one block per chunk
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(1, 0, &block), Status::kOk);
    EXPECT_EQ(pool->reservation().bytes, std::uint64_t{3} << 20);
    EXPECT_EQ(pool->fragmentation().free_blocks, 0u);
  }
  {
    auto pool = this->make({.block_size = 64, .max_blocks = 10});
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
    EXPECT_EQ(pool->reservation().bytes, 10u * 64u) << "a small maximum bounds the automatic chunk";
  }
  // 10^7 blocks of 1 MiB need 153 per chunk to fit the 65536-chunk table: the
  // automatic chunk grows (nothing is reserved yet).
  EXPECT_NE(this->make({.block_size = 1 << 20, .max_blocks = 10'000'000}), nullptr);
  // The 32-bit index limit itself, with chunks big enough for the table.
  EXPECT_NE(this->make({.block_size = 8, .blocks_per_chunk = 1 << 16, .max_blocks = 0xFFFFFFFEU}), nullptr);
}

TYPED_TEST(FixedPoolTest, InitialBlocksAreReservedUpFront) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 16, .initial_blocks = 40});
  EXPECT_EQ(pool->reservation().regions, 3u) << "rounded up to whole chunks";
  EXPECT_EQ(pool->fragmentation().free_blocks, 48u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  auto capped = this->make({.block_size = 64, .blocks_per_chunk = 16, .initial_blocks = 40, .max_blocks = 20});
  EXPECT_EQ(capped->fragmentation().free_blocks, 20u);

  auto backend = std::make_shared<CountingBackend>(2);
  std::unique_ptr<typename TestFixture::Pool> refused;
  EXPECT_EQ(TestFixture::Pool::create({.block_size = 64, .blocks_per_chunk = 16, .initial_blocks = 40}, backend,
                                      &refused),
            Status::kOutOfPoolMemory);
  EXPECT_TRUE(contains(error_detail(), "test budget spent")) << error_detail();
  EXPECT_EQ(refused, nullptr);
  EXPECT_EQ(backend->regions_.load(), 0) << "the chunks reserved before the refusal went back";
}

TYPED_TEST(FixedPoolTest, BadRequestsAreRejectedAndChangeNothing) {
  auto pool = this->make({.block_size = 64, .alignment = 16, .blocks_per_chunk = 4});
  void* held = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &held), Status::kOk);
  const Observed before = observe(*pool);
  const std::pair<std::size_t, std::size_t> bad[] = {
      {0, 0}, {65, 0}, {std::numeric_limits<std::size_t>::max(), 0}, {64, 24}, {64, 32}, {64, 3}};
  for (const auto& [size, align] : bad) {
    void* block = &held;
    EXPECT_EQ(pool->allocate(size, align, &block), Status::kInvalidArgument) << size << "/" << align;
    EXPECT_GT(std::strlen(error_detail()), 0u);
    EXPECT_EQ(block, &held) << "out untouched";
    EXPECT_EQ(observe(*pool), before);
  }
  EXPECT_TRUE(contains(error_detail(), "alignment 3")) << error_detail();
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  for (const std::size_t align : {0, 1, 2, 8, 16}) {
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(1, align, &block), Status::kOk) << align;
    ASSERT_EQ(pool->deallocate(block, nullptr), Status::kOk);
  }
}

TYPED_TEST(FixedPoolTest, BadConfigsAreRejected) {
  using Fixed = typename TestFixture::Pool;
  const auto backend = std::make_shared<MallocBackend>();
  const std::size_t kHuge = std::numeric_limits<std::size_t>::max();
  const std::pair<FixedPoolConfig, const char*> cases[] = {
      {{.block_size = 0}, "block size must be positive"},
      {{.block_size = 8, .alignment = 0}, "alignment 0 is not a power of two"},
      {{.block_size = 8, .alignment = 3}, "alignment 3 is not a power of two"},
      {{.block_size = 8, .alignment = 24}, "alignment 24"},
      {{.block_size = kHuge - 3}, "exceeds 2^48"},
      {{.block_size = std::size_t{1} << 49}, "exceeds 2^48"},
      {{.block_size = std::size_t{1} << 30, .blocks_per_chunk = std::size_t{1} << 20}, "chunk of 1048576 blocks"},
      {{.block_size = 8, .blocks_per_chunk = (std::size_t{1} << 31) + 1}, "blocks per chunk"},
      {{.block_size = 8, .max_blocks = 0xFFFFFFFFU}, "32-bit"},
      {{.block_size = 8, .max_blocks = kHuge}, "32-bit"},
      {{.block_size = 8, .blocks_per_chunk = 1, .max_blocks = 100'000}, "chunk table"},
  };
  for (const auto& [config, message] : cases) {
    std::unique_ptr<Fixed> pool;
    EXPECT_EQ(Fixed::create(config, backend, &pool), Status::kInvalidArgument) << message;
    EXPECT_TRUE(contains(error_detail(), message)) << error_detail();
    EXPECT_EQ(pool, nullptr);
  }
  std::unique_ptr<Fixed> pool;
  EXPECT_EQ(Fixed::create({.block_size = 8}, nullptr, &pool), Status::kInvalidArgument);
  EXPECT_EQ(Fixed::create({.block_size = 8}, backend, nullptr), Status::kInvalidArgument);
  EXPECT_EQ(pool, nullptr);
}

TYPED_TEST(FixedPoolTest, EveryBadFreeIsDetectedAndChangesNothing) {
  auto pool = this->make({.block_size = 40, .alignment = 16, .blocks_per_chunk = 4});  // stride 48
  std::vector<char*> blocks(4);
  for (auto& block : blocks) {
    void* raw = nullptr;
    ASSERT_EQ(pool->allocate(40, 0, &raw), Status::kOk);
    block = static_cast<char*>(raw);
  }
  ASSERT_EQ(pool->deallocate(blocks[3], nullptr), Status::kOk);
  auto stranger = this->make({.block_size = 40});
  void* foreign_block = nullptr;
  ASSERT_EQ(stranger->allocate(40, 0, &foreign_block), Status::kOk);
  int on_stack = 0;
  void* heap = std::malloc(40);
  char* const past_end = *std::max_element(blocks.begin(), blocks.end()) + 48;
  const Observed before = observe(*pool);

  struct Case {
    void* ptr;
    Status status;
    std::string message;
  };
  const Case cases[] = {
      {nullptr, Status::kInvalidFree, "null pointer"},
      {&on_stack, Status::kInvalidFree, hex(&on_stack) + " is not a block of this pool"},
      {heap, Status::kInvalidFree, hex(heap) + " is not a block of this pool"},
      {foreign_block, Status::kInvalidFree, "is not a block of this pool"},
      {past_end, Status::kInvalidFree, hex(past_end) + " is not a block of this pool"},
      {blocks[0] + 24, Status::kInvalidFree, hex(blocks[0] + 24) + " points 24 bytes into block " + hex(blocks[0])},
      {blocks[1] + 44, Status::kInvalidFree, "points 44 bytes into block " + hex(blocks[1])},  // the padding
      {blocks[0] - 1, Status::kInvalidFree, ""},
      {blocks[3], Status::kDoubleFree, hex(blocks[3]) + " is already free"},
  };
  for (const Case& c : cases) {
    std::size_t freed = 12345;
    EXPECT_EQ(pool->deallocate(c.ptr, &freed), c.status) << hex(c.ptr);
    EXPECT_TRUE(contains(error_detail(), c.message)) << error_detail();
    EXPECT_EQ(freed, 12345u) << "freed_size untouched";
    EXPECT_EQ(observe(*pool), before);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
  std::free(heap);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
  EXPECT_EQ(pool->fragmentation().free_blocks, 4u);
}

TYPED_TEST(FixedPoolTest, FreeingABlockNeverHandedOutIsAnInvalidFreeAndAFreedOneADoubleFree) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 4});
  void* first = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &first), Status::kOk);
  char* const fresh = static_cast<char*>(first) + 64;  // the chunk's next block, still on the free list
  const Observed before = observe(*pool);
  EXPECT_EQ(pool->deallocate(fresh, nullptr), Status::kInvalidFree);
  EXPECT_TRUE(contains(error_detail(), hex(fresh) + " was never handed out")) << error_detail();
  EXPECT_EQ(observe(*pool), before);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  void* second = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &second), Status::kOk);
  ASSERT_EQ(second, fresh) << "blocks are handed out in address order from a new chunk";
  ASSERT_EQ(pool->deallocate(second, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(second, nullptr), Status::kDoubleFree);
  EXPECT_TRUE(contains(error_detail(), "is already free")) << error_detail();
  ASSERT_EQ(pool->deallocate(first, nullptr), Status::kOk);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, ReusedBlockCanBeFreedAgainButNotTwice) {
  auto pool = this->make({.block_size = 64});
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
  ASSERT_EQ(pool->deallocate(block, nullptr), Status::kOk);
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &again), Status::kOk);
  ASSERT_EQ(again, block);
  std::size_t freed = 0;
  EXPECT_EQ(pool->deallocate(again, &freed), Status::kOk);
  EXPECT_EQ(freed, pool->counted_size(1));
  EXPECT_EQ(pool->deallocate(again, nullptr), Status::kDoubleFree);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, BatchAllocationIsAllOrNothingAndGrowsNothingWhenRefused) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 8, .max_blocks = 20});
  std::vector<void*> blocks(12, nullptr);
  ASSERT_EQ(pool->allocate_batch(64, 0, blocks.data(), blocks.size()), Status::kOk) << error_detail();
  std::set<void*> distinct(blocks.begin(), blocks.end());
  EXPECT_EQ(distinct.size(), blocks.size());
  EXPECT_EQ(distinct.count(nullptr), 0u);
  EXPECT_EQ(pool->reservation().regions, 2u);
  // 4 blocks free and room for 4 more: 9 cannot be served, and no chunk grows.
  const Observed before = observe(*pool);
  int sentinel = 0;
  std::vector<void*> more(9, &sentinel);
  EXPECT_EQ(pool->allocate_batch(64, 0, more.data(), more.size()), Status::kOutOfPoolMemory);
  EXPECT_TRUE(contains(error_detail(), "is full")) << error_detail();
  EXPECT_EQ(observe(*pool), before);
  for (void* slot : more) EXPECT_EQ(slot, &sentinel) << "a refused batch writes nothing";
  EXPECT_EQ(pool->allocate_batch(65, 0, more.data(), 1), Status::kInvalidArgument);
  EXPECT_EQ(observe(*pool), before);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  ASSERT_EQ(pool->allocate_batch(64, 0, more.data(), 8), Status::kOk) << error_detail();
  EXPECT_EQ(pool->fragmentation().free_blocks, 0u);
  EXPECT_EQ(pool->reservation().bytes, 20u * 64);
  distinct.insert(more.begin(), more.begin() + 8);
  EXPECT_EQ(distinct.size(), 20u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, BatchRefusedByTheBackendGivesItsBlocksBack) {
  auto backend = std::make_shared<CountingBackend>(2);
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 4}, backend);
  std::vector<void*> blocks(9, nullptr);
  EXPECT_EQ(pool->allocate_batch(64, 0, blocks.data(), blocks.size()), Status::kOutOfPoolMemory);
  EXPECT_TRUE(contains(error_detail(), "test budget spent")) << error_detail();
  // The two chunks grown before the refusal stay, wholly free.
  EXPECT_EQ(pool->fragmentation().free_blocks, 8u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  ASSERT_EQ(pool->allocate_batch(64, 0, blocks.data(), 8), Status::kOk);
  EXPECT_EQ(pool->fragmentation().free_blocks, 0u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, BatchFreeStopsAtTheFirstBadPointerAndChecksEveryBlock) {
  auto pool = this->make({.block_size = 48, .blocks_per_chunk = 16});
  std::vector<void*> blocks(10, nullptr);
  ASSERT_EQ(pool->allocate_batch(48, 0, blocks.data(), blocks.size()), Status::kOk);
  int on_stack = 0;
  struct Case {
    std::vector<void*> batch;
    Status status;
    std::size_t freed;
  };
  const Case cases[] = {
      {{blocks[0], blocks[1], blocks[0], blocks[2]}, Status::kDoubleFree, 2},  // twice in one batch
      {{blocks[2], &on_stack, blocks[3]}, Status::kInvalidFree, 1},
      {{blocks[3], static_cast<char*>(blocks[4]) + 8, blocks[5]}, Status::kInvalidFree, 1},
      {{blocks[2], blocks[4]}, Status::kDoubleFree, 0},  // freed by the case before
      {{blocks[4], blocks[5], blocks[6], blocks[7], blocks[8], blocks[9]}, Status::kOk, 6},
  };
  std::size_t free_blocks = pool->fragmentation().free_blocks;
  for (const Case& c : cases) {
    std::size_t freed = 99;
    std::size_t bytes = 99;
    EXPECT_EQ(pool->deallocate_batch(c.batch.data(), c.batch.size(), &freed, &bytes), c.status) << error_detail();
    EXPECT_EQ(freed, c.freed);
    EXPECT_EQ(bytes, c.freed * 48);
    free_blocks += c.freed;
    EXPECT_EQ(pool->fragmentation().free_blocks, free_blocks);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
  EXPECT_EQ(free_blocks, 16u);
}

TYPED_TEST(FixedPoolTest, ParkedBlocksAreNeitherFreeNorFreeable) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 8});
  std::uint32_t parked[8];
  std::size_t taken = 0;
  ASSERT_EQ(pool->take_parked(parked, 5, &taken), Status::kOk);
  EXPECT_EQ(taken, 5u);
  EXPECT_EQ(pool->fragmentation().free_blocks, 3u);
  EXPECT_EQ(pool->validate_parked(5), Status::kOk) << error_detail();
  EXPECT_EQ(pool->validate_parked(4), Status::kCorrupted);
  void* block = pool->unpark(parked[4]);
  void* free_block = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &free_block), Status::kOk);
  EXPECT_NE(block, free_block);
  // A parked block cannot be freed or parked again; a handed-out one can.
  ASSERT_EQ(pool->park(block, &parked[4]), Status::kOk);
  EXPECT_EQ(pool->deallocate(block, nullptr), Status::kDoubleFree);
  EXPECT_TRUE(contains(error_detail(), "parked in a thread cache")) << error_detail();
  std::uint32_t index = 0;
  EXPECT_EQ(pool->park(block, &index), Status::kDoubleFree);
  EXPECT_EQ(pool->park(static_cast<char*>(free_block) + 1, &index), Status::kInvalidFree);
  int on_stack = 0;
  EXPECT_EQ(pool->park(&on_stack, &index), Status::kInvalidFree);
  EXPECT_EQ(pool->validate_parked(5), Status::kOk) << error_detail();
  // Taking more than are free takes what is free, growing only when none is.
  std::size_t more = 0;
  ASSERT_EQ(pool->take_parked(parked + 5, 3, &more), Status::kOk);
  EXPECT_EQ(more, 2u);
  EXPECT_EQ(pool->reservation().regions, 1u);
  pool->release_parked(parked, 7);
  EXPECT_EQ(pool->fragmentation().free_blocks, 7u);
  EXPECT_EQ(pool->validate_parked(0), Status::kOk) << error_detail();
  EXPECT_EQ(pool->deallocate(free_block, nullptr), Status::kOk);
  EXPECT_EQ(pool->trim(), 8u * 64) << "released blocks count as free for trim";
}

TYPED_TEST(FixedPoolTest, TrimReleasesOnlyWhollyFreeChunks) {
  auto backend = std::make_shared<CountingBackend>();
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 4}, backend);
  std::vector<void*> blocks(12);
  for (auto& block : blocks) ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
  ASSERT_EQ(pool->deallocate(blocks[9], nullptr), Status::kOk);  // the third chunk keeps 3 live blocks
  EXPECT_EQ(pool->trim(), 2u * 4u * 64u);
  EXPECT_EQ(backend->regions_.load(), 1);
  EXPECT_EQ(pool->reservation().regions, 1u);
  EXPECT_EQ(pool->reservation().bytes, 4u * 64u);
  EXPECT_EQ(pool->reservation().peak_bytes, 12u * 64u) << "the peak survives trim";
  EXPECT_EQ(pool->fragmentation().free_blocks, 1u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  const Observed trimmed = observe(*pool);
  EXPECT_EQ(pool->deallocate(blocks[0], nullptr), Status::kInvalidFree) << "its chunk is gone";
  EXPECT_TRUE(contains(error_detail(), "is not a block of this pool")) << error_detail();
  EXPECT_EQ(observe(*pool), trimmed);
  EXPECT_EQ(pool->trim(), 0u) << "nothing more is wholly free";
  // The pool grows again into the trimmed slots.
  for (int i = 0; i < 8; ++i) ASSERT_EQ(pool->allocate(64, 0, &blocks[i]), Status::kOk);
  EXPECT_EQ(pool->reservation().regions, 3u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  for (int i = 0; i < 12; ++i) {
    if (i != 9) {
      ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk) << i;
    }
  }
  EXPECT_EQ(pool->trim(), 12u * 64u);
  EXPECT_EQ(backend->regions_.load(), 0);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk) << "works after trimming everything";
}

TYPED_TEST(FixedPoolTest, DestructionReturnsEveryChunkLiveBlocksIncluded) {
  auto backend = std::make_shared<CountingBackend>();
  {
    auto pool = this->make({.block_size = 100, .blocks_per_chunk = 8, .max_blocks = 30}, backend);
    void* block = nullptr;
    for (int i = 0; i < 30; ++i) ASSERT_EQ(pool->allocate(100, 0, &block), Status::kOk);
    EXPECT_EQ(backend->regions_.load(), 4);
    EXPECT_EQ(backend->bytes_.load(), 30 * 112);
  }
  EXPECT_EQ(backend->regions_.load(), 0);
  EXPECT_EQ(backend->bytes_.load(), 0);
}

TYPED_TEST(FixedPoolTest, BackendRefusalIsOutOfPoolMemoryAndRecoverable) {
  auto backend = std::make_shared<CountingBackend>(2);
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 4}, backend);
  std::vector<void*> blocks(8);
  for (auto& block : blocks) ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
  const Observed before = observe(*pool);
  void* block = nullptr;
  EXPECT_EQ(pool->allocate(64, 0, &block), Status::kOutOfPoolMemory);
  EXPECT_TRUE(contains(error_detail(), "64-byte blocks cannot grow")) << error_detail();
  EXPECT_TRUE(contains(error_detail(), "test budget spent")) << error_detail();
  EXPECT_TRUE(contains(error_detail(), "8 blocks in pool")) << error_detail();
  EXPECT_EQ(observe(*pool), before);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  backend->add_budget(1);
  EXPECT_EQ(pool->allocate(64, 0, &block), Status::kOk);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, NeverTouchesManagedMemory) {
  auto backend = std::make_shared<NoTouchBackend>();
  {
    auto pool = this->make({.block_size = 256, .blocks_per_chunk = 8, .initial_blocks = 8, .max_blocks = 40},
                           backend);
    std::vector<char*> blocks(40);
    for (auto& block : blocks) {
      void* raw = nullptr;
      ASSERT_EQ(pool->allocate(256, 0, &raw), Status::kOk);
      block = static_cast<char*>(raw);
    }
    for (std::size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
    EXPECT_EQ(pool->deallocate(blocks[0], nullptr), Status::kDoubleFree);
    EXPECT_EQ(pool->deallocate(blocks[1] + 1, nullptr), Status::kInvalidFree);
    for (std::size_t i = 1; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
    EXPECT_EQ(pool->trim(), 40u * 256u);
    EXPECT_EQ(pool->deallocate(blocks[1], nullptr), Status::kInvalidFree);
    void* block = nullptr;
    for (int i = 0; i < 12; ++i) ASSERT_EQ(pool->allocate(1, 0, &block), Status::kOk);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
    EXPECT_EQ(pool->fragmentation().free_blocks, 4u);
  }
  EXPECT_EQ(backend->released_.load(), 5 + 2);
}

TYPED_TEST(FixedPoolTest, RandomSequenceMatchesAReferenceModel) {
  constexpr std::size_t kMax = 500;
  auto pool = this->make({.block_size = 40, .alignment = 8, .blocks_per_chunk = 32, .max_blocks = kMax});
  std::mt19937_64 random(20240601);
  std::vector<void*> live;
  std::set<void*> live_set;
  void* last_freed = nullptr;
  std::uint64_t peak = 0;
  for (int step = 0; step < 4000; ++step) {
    const auto choice = random() % 100;
    if (choice < 55) {
      void* block = nullptr;
      const Status status = pool->allocate(1 + random() % 40, 8, &block);
      if (live.size() == kMax) {
        ASSERT_EQ(status, Status::kOutOfPoolMemory) << step;
      } else {
        ASSERT_EQ(status, Status::kOk) << step << ": " << error_detail();
        ASSERT_TRUE(live_set.insert(block).second) << "handed out twice";
        live.push_back(block);
      }
    } else if (choice < 93 && !live.empty()) {
      const std::size_t victim = random() % live.size();
      std::size_t freed = 0;
      ASSERT_EQ(pool->deallocate(live[victim], &freed), Status::kOk) << step;
      ASSERT_EQ(freed, 40u);
      last_freed = live[victim];
      live_set.erase(last_freed);
      live[victim] = live.back();
      live.pop_back();
    } else if (choice < 97) {
      const Observed before = observe(*pool);
      if (last_freed != nullptr && live_set.count(last_freed) == 0) {
        ASSERT_EQ(pool->deallocate(last_freed, nullptr), Status::kDoubleFree) << step;
      }
      if (!live.empty()) {
        ASSERT_EQ(pool->deallocate(static_cast<char*>(live.front()) + 8, nullptr), Status::kInvalidFree) << step;
      }
      ASSERT_EQ(observe(*pool), before);
    } else {
      pool->trim();
    }
    const Reservation reserved = pool->reservation();
    ASSERT_EQ(pool->fragmentation().free_blocks + live.size(), reserved.bytes / 40) << step;
    ASSERT_LE(reserved.bytes, kMax * 40);
    ASSERT_EQ(reserved.regions, (reserved.bytes / 40 + 31) / 32) << "chunks are full but the last";
    peak = std::max(peak, reserved.bytes);
    ASSERT_EQ(reserved.peak_bytes, peak);
    ASSERT_EQ(pool->validate(), Status::kOk) << step << ": " << error_detail();
  }
}

// ---- Concurrency ---------------------------------------------------------

template <class ModeConstant>
class ConcurrentFixedPoolTest : public FixedPoolTest<ModeConstant> {};
using ConcurrentModes = testing_backends::AllBackends<ThreadSafety::kMutex, ThreadSafety::kLockFree>;
TYPED_TEST_SUITE(ConcurrentFixedPoolTest, ConcurrentModes, testing_backends::CaseNames);

// Each thread stamps its id on both ends of the blocks it holds and checks
// the stamps before freeing: two threads sharing a block would clobber them.
template <class Pool>
void churn(Pool& pool, std::size_t block_size, int id, int rounds, std::atomic<int>& failures) {
  std::mt19937 random(static_cast<unsigned>(id) * 7919U + 1);
  std::vector<std::uint64_t*> held;
  const std::size_t last_word = block_size / sizeof(std::uint64_t) - 1;
  const auto stamp = static_cast<std::uint64_t>(id) + 1;
  const auto release = [&] {
    std::uint64_t* block = held.back();
    held.pop_back();
    if (block[0] != stamp || block[last_word] != stamp) failures.fetch_add(1);
    block[0] = 0;
    block[last_word] = 0;
    if (pool.deallocate(block, nullptr) != Status::kOk) failures.fetch_add(1);
  };
  for (int i = 0; i < rounds; ++i) {
    if (held.empty() || (held.size() < 64 && random() % 2 == 0)) {
      void* raw = nullptr;
      if (pool.allocate(block_size, 0, &raw) != Status::kOk) {
        failures.fetch_add(1);
        continue;
      }
      auto* block = static_cast<std::uint64_t*>(raw);
      block[0] = stamp;
      block[last_word] = stamp;
      held.push_back(block);
    } else {
      // Free a random held block, not only the newest, to mix the list.
      std::swap(held[random() % held.size()], held.back());
      release();
    }
  }
  while (!held.empty()) release();
}

TYPED_TEST(ConcurrentFixedPoolTest, ThreadsNeverShareABlockAndEverythingComesBack) {
  for (const int threads : {2, 8}) {
    auto pool = this->make({.block_size = 64, .blocks_per_chunk = 32});
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] { churn(*pool, 64, t, 150'000, failures); });
    }
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(failures.load(), 0) << threads << " threads";
    EXPECT_EQ(pool->fragmentation().free_blocks * 64, pool->reservation().bytes) << "every block is free again";
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
}

// A tiny pool under heavy contention: the free list is a handful of blocks
// that every thread pops and pushes, the setting in which an untagged CAS
// hands one block to two threads (ABA).
TYPED_TEST(ConcurrentFixedPoolTest, TinyPoolUnderContentionNeverHandsABlockOutTwice) {
  constexpr int kThreads = 8;
  auto pool = this->make(
      {.block_size = 16, .blocks_per_chunk = 4, .initial_blocks = 2 * kThreads, .max_blocks = 2 * kThreads});
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      const auto stamp = static_cast<std::uint64_t>(t) + 1;
      for (int round = 0; round < 200'000; ++round) {
        void* pair[2] = {nullptr, nullptr};
        for (void*& block : pair) {
          if (pool->allocate(16, 0, &block) != Status::kOk) failures.fetch_add(1);
          if (block != nullptr) *static_cast<std::uint64_t*>(block) = stamp;
        }
        for (void* block : pair) {
          if (block == nullptr) continue;
          if (*static_cast<std::uint64_t*>(block) != stamp) failures.fetch_add(1);
          if (pool->deallocate(block, nullptr) != Status::kOk) failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pool->fragmentation().free_blocks, 2u * kThreads);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(ConcurrentFixedPoolTest, RacingFreesOfOneBlockSucceedExactlyOnce) {
  constexpr int kThreads = 4;
  constexpr int kBlocks = 256;
  auto pool = this->make({.block_size = 32, .blocks_per_chunk = 64});
  for (int round = 0; round < 20; ++round) {
    std::vector<void*> blocks(kBlocks);
    for (auto& block : blocks) ASSERT_EQ(pool->allocate(32, 0, &block), Status::kOk);
    std::atomic<int> freed{0};
    std::atomic<int> double_frees{0};
    std::atomic<int> other{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&] {
        for (void* block : blocks) {
          switch (pool->deallocate(block, nullptr)) {
            case Status::kOk: freed.fetch_add(1); break;
            case Status::kDoubleFree: double_frees.fetch_add(1); break;
            default: other.fetch_add(1); break;
          }
        }
      });
    }
    for (auto& worker : workers) worker.join();
    ASSERT_EQ(freed.load(), kBlocks);
    ASSERT_EQ(double_frees.load(), kBlocks * (kThreads - 1));
    ASSERT_EQ(other.load(), 0);
    ASSERT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
}

// Batches detach and push whole chains while other threads pop and push
// single blocks and park them: no block may be in two hands.
TYPED_TEST(ConcurrentFixedPoolTest, BatchesSinglesAndParkingNeverShareABlock) {
  constexpr int kThreads = 8;
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 16, .max_blocks = 16 * 40});
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t) + 5);
      const auto stamp = static_cast<std::uint64_t>(t) + 1;
      std::vector<void*> held(40);
      for (int round = 0; round < 20'000; ++round) {
        const std::size_t n = 1 + random() % held.size();
        if (random() % 2 == 0) {
          if (pool->allocate_batch(64, 0, held.data(), n) != Status::kOk) failures.fetch_add(1);
        } else {
          std::size_t taken = 0;
          std::uint32_t parked[40];
          if (pool->take_parked(parked, n, &taken) != Status::kOk) failures.fetch_add(1);
          for (std::size_t i = 0; i < taken; ++i) held[i] = pool->unpark(parked[i]);
          for (std::size_t i = taken; i < n; ++i) {
            if (pool->allocate(64, 0, &held[i]) != Status::kOk) failures.fetch_add(1);
          }
        }
        for (std::size_t i = 0; i < n; ++i) *static_cast<std::uint64_t*>(held[i]) = stamp;
        for (std::size_t i = 0; i < n; ++i) {
          if (*static_cast<std::uint64_t*>(held[i]) != stamp) failures.fetch_add(1);
        }
        const int how = static_cast<int>(random() % 3);
        if (how == 0) {
          std::size_t freed = 0;
          if (pool->deallocate_batch(held.data(), n, &freed, nullptr) != Status::kOk || freed != n) {
            failures.fetch_add(1);
          }
        } else if (how == 1) {
          std::uint32_t parked[40];
          for (std::size_t i = 0; i < n; ++i) {
            if (pool->park(held[i], &parked[i]) != Status::kOk) failures.fetch_add(1);
          }
          pool->release_parked(parked, n);
        } else {
          for (std::size_t i = 0; i < n; ++i) {
            if (pool->deallocate(held[i], nullptr) != Status::kOk) failures.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pool->fragmentation().free_blocks * 64, pool->reservation().bytes);
  EXPECT_EQ(pool->validate_parked(0), Status::kOk) << error_detail();
}

TYPED_TEST(ConcurrentFixedPoolTest, TrimWhileOthersAllocateAndFree) {
  // Plenty of spare chunks up front, so that trim really releases some while
  // the workers run.
  // Small chunks, so that they often become wholly free under the workers.
  auto pool = this->make({.block_size = 32, .blocks_per_chunk = 4, .initial_blocks = 1024});
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<std::size_t> released{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 6; ++t) {
    workers.emplace_back([&, t] { churn(*pool, 32, t, 60'000, failures); });
  }
  std::thread trimmer([&] {
    do {
      released.fetch_add(pool->trim());
      // Statistics are read while the pool runs (data races show under TSan).
      if (pool->fragmentation().free_blocks * 32 > pool->reservation().peak_bytes) failures.fetch_add(1);
      std::this_thread::yield();
    } while (!stop.load());
  });
  for (auto& worker : workers) worker.join();
  stop = true;
  trimmer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(released.load(), 0u);
  EXPECT_EQ(pool->fragmentation().free_blocks * 32, pool->reservation().bytes);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  const std::uint64_t left = pool->reservation().bytes;
  EXPECT_EQ(pool->trim(), left) << "nothing is live: trim returns all that is left";
  EXPECT_EQ(pool->reservation().bytes, 0u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

}  // namespace
}  // namespace nativepool
