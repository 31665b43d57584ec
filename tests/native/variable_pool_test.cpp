// SPDX-License-Identifier: Apache-2.0
#include "nativepool/variable_pool.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/math.hpp"
#include "size_classes.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * 1024;

// Regions are PROT_NONE mappings, reported as device memory: the first time
// the pool touched managed memory, the test would die with SIGSEGV. Every
// test except the stress tests runs on it. It also checks that each region
// comes back with the size and alignment it was handed out with, and can be
// told to refuse.
class ProtNoneBackend final : public Backend {
 public:
  ~ProtNoneBackend() override { EXPECT_TRUE(regions_.empty()) << regions_.size() << " regions leaked"; }

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    std::lock_guard guard(mutex_);
    if (refuse_after_ == 0) return fail(Status::kOutOfPoolMemory, "test backend: refusing %zu bytes", size);
    if (refuse_after_ > 0) --refuse_after_;
    const std::size_t align = std::max(alignment, kPage);
    const std::size_t length = round_up(size, kPage);
    void* raw = ::mmap(nullptr, length + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return fail(Status::kOutOfPoolMemory, "test backend: mmap of %zu bytes failed", size);
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = round_up(base, align);
    if (aligned > base) ::munmap(raw, aligned - base);
    ::munmap(reinterpret_cast<void*>(aligned + length), base + align - aligned);
    regions_[aligned] = {size, alignment};
    *out = reinterpret_cast<void*>(aligned);
    return Status::kOk;
  }

  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override {
    std::lock_guard guard(mutex_);
    const auto it = regions_.find(reinterpret_cast<std::uintptr_t>(region));
    EXPECT_NE(it, regions_.end()) << "unknown region " << region;
    if (it == regions_.end()) return;
    EXPECT_EQ(it->second, std::make_pair(size, alignment));
    regions_.erase(it);
    ::munmap(region, round_up(size, kPage));
  }

  MemoryKind kind() const noexcept override { return MemoryKind::kDevice; }
  std::string_view name() const noexcept override { return "prot-none"; }

  /// Grants @p count more regions, then refuses; negative: never refuses.
  void refuse_after(long count) {
    std::lock_guard guard(mutex_);
    refuse_after_ = count;
  }
  std::size_t live_regions() {
    std::lock_guard guard(mutex_);
    return regions_.size();
  }

 private:
  static constexpr std::size_t kPage = 4096;
  std::mutex mutex_;
  std::map<std::uintptr_t, std::pair<std::size_t, std::size_t>> regions_;
  long refuse_after_ = -1;
};

VariablePoolConfig config_of(std::size_t arena, std::size_t granularity = 16, std::size_t max = 0,
                             std::size_t initial = 0) {
  VariablePoolConfig config;
  config.arena_size = arena;
  config.granularity = granularity;
  config.max_bytes = max;
  config.initial_bytes = initial;
  return config;
}

std::string hex(const void* ptr) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%" PRIxPTR, reinterpret_cast<std::uintptr_t>(ptr));
  return text;
}

void* offset(void* ptr, std::size_t bytes) { return static_cast<char*>(ptr) + bytes; }

// What must not change when an operation fails.
struct Snapshot {
  Fragmentation fragmentation;
  Reservation reservation;
  bool operator==(const Snapshot& other) const {
    return fragmentation.free_bytes == other.fragmentation.free_bytes &&
           fragmentation.free_blocks == other.fragmentation.free_blocks &&
           fragmentation.largest_free_block == other.fragmentation.largest_free_block &&
           reservation.bytes == other.reservation.bytes && reservation.regions == other.reservation.regions &&
           reservation.peak_bytes == other.reservation.peak_bytes;
  }
};

template <class P>
Snapshot snapshot(const P& pool) {
  return {pool.fragmentation(), pool.reservation()};
}

#define EXPECT_VALID(pool) EXPECT_EQ((pool).validate(), Status::kOk) << error_detail()
#define ASSERT_VALID(pool) ASSERT_EQ((pool).validate(), Status::kOk) << error_detail()

// Fully coalesced: every arena is one free block.
template <class P>
void expect_all_free(const P& pool) {
  const Fragmentation f = pool.fragmentation();
  const Reservation r = pool.reservation();
  EXPECT_EQ(f.free_bytes, r.bytes);
  EXPECT_EQ(f.free_blocks, r.regions);
  EXPECT_VALID(pool);
}

// Nothing in use after small blocks came and went: every byte is free, and
// trim() returns all of it, which it does only for arenas that are one free
// block once the empty slabs the classes keep (one each) have gone back.
template <class P>
void expect_all_free_once_trimmed(P& pool) {
  const Reservation r = pool.reservation();
  EXPECT_EQ(pool.fragmentation().free_bytes, r.bytes);
  EXPECT_VALID(pool);
  EXPECT_EQ(pool.trim(), r.bytes);
  EXPECT_EQ(pool.reservation().regions, 0u);
  EXPECT_VALID(pool);
}

template <class P>
class VariablePoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<P> make(const VariablePoolConfig& config) {
    std::unique_ptr<P> pool;
    const Status status = P::create(config, backend_, &pool);
    EXPECT_EQ(status, Status::kOk) << error_detail();
    return pool;
  }

  std::shared_ptr<ProtNoneBackend> backend_ = std::make_shared<ProtNoneBackend>();
};

using Modes = ::testing::Types<VariablePool<ThreadSafety::kNone>, VariablePool<ThreadSafety::kMutex>>;
TYPED_TEST_SUITE(VariablePoolTest, Modes);

static_assert(PoolAlgorithm<VariablePool<ThreadSafety::kNone>>);
static_assert(PoolAlgorithm<VariablePool<ThreadSafety::kMutex>>);
static_assert(!VariablePool<ThreadSafety::kNone>::kConcurrent);
static_assert(VariablePool<ThreadSafety::kMutex>::kConcurrent);

TYPED_TEST(VariablePoolTest, CreateRejectsBadConfigs) {
  struct Case {
    VariablePoolConfig config;
    const char* detail;
  };
  const Case cases[] = {
      {config_of(64 * kKiB, 0), "granularity 0 is not a power of two"},
      {config_of(64 * kKiB, 24), "granularity 24 is not a power of two"},
      {config_of(0), "arena_size 0 is not a positive multiple of the granularity 16"},
      {config_of(1000), "arena_size 1000 is not a positive multiple of the granularity 16"},
      {config_of(64 * kKiB, 256, 128), "max_bytes 128 is below the granularity 256"},
      {config_of(64 * kKiB, 16, 128 * kKiB, 256 * kKiB), "initial_bytes 262144 exceeds max_bytes 131072"},
  };
  for (const Case& c : cases) {
    std::unique_ptr<TypeParam> pool;
    EXPECT_EQ(TypeParam::create(c.config, this->backend_, &pool), Status::kInvalidArgument);
    EXPECT_NE(std::string(error_detail()).find(c.detail), std::string::npos) << error_detail();
    EXPECT_EQ(pool, nullptr);
  }
  std::unique_ptr<TypeParam> pool;
  EXPECT_EQ(TypeParam::create(config_of(64 * kKiB), nullptr, &pool), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("backend is null"), std::string::npos);
  EXPECT_EQ(TypeParam::create(config_of(64 * kKiB), this->backend_, nullptr), Status::kInvalidArgument);
  EXPECT_NE(std::string(error_detail()).find("out is null"), std::string::npos);
  EXPECT_EQ(this->backend_->live_regions(), 0u);
}

TEST(VariablePoolCreate, RejectsLockFree) {
  std::unique_ptr<VariablePool<ThreadSafety::kLockFree>> pool;
  EXPECT_EQ(VariablePool<ThreadSafety::kLockFree>::create({}, std::make_shared<MallocBackend>(), &pool),
            Status::kInvalidArgument);
  EXPECT_STREQ(error_detail(), "variable pools support NONE and MUTEX; use a fixed pool for LOCK_FREE");
  EXPECT_EQ(pool, nullptr);
}

TYPED_TEST(VariablePoolTest, InitialBytesReserveWholeArenasCappedByMax) {
  {
    auto pool = this->make(config_of(64 * kKiB, 16, 0, 150 * kKiB));
    EXPECT_EQ(pool->reservation().bytes, 192 * kKiB);
    EXPECT_EQ(pool->reservation().regions, 3u);
    expect_all_free(*pool);
  }
  {
    // 150 KiB rounds up to three arenas, the last one capped at the maximum.
    auto pool = this->make(config_of(64 * kKiB, 16, 160 * kKiB, 150 * kKiB));
    EXPECT_EQ(pool->reservation().bytes, 160 * kKiB);
    EXPECT_EQ(pool->reservation().regions, 3u);
    expect_all_free(*pool);
  }
  EXPECT_EQ(this->backend_->live_regions(), 0u);
  this->backend_->refuse_after(1);
  std::unique_ptr<TypeParam> pool;
  EXPECT_EQ(TypeParam::create(config_of(64 * kKiB, 16, 0, 128 * kKiB), this->backend_, &pool),
            Status::kOutOfPoolMemory);
  EXPECT_STREQ(error_detail(),
               "variable pool: cannot reserve initial_bytes 131072: the backend refused 65536 more bytes after "
               "65536: test backend: refusing 65536 bytes");
  EXPECT_EQ(pool, nullptr);
  EXPECT_EQ(this->backend_->live_regions(), 0u) << "the arena reserved before the refusal must go back";
}

TYPED_TEST(VariablePoolTest, DestructorReturnsEveryArena) {
  {
    auto pool = this->make(config_of(64 * kKiB));
    void* p = nullptr;
    for (std::size_t size : {100 * kKiB, 10 * kKiB, 60 * kKiB, 1 * kKiB}) {
      ASSERT_EQ(pool->allocate(size, 0, &p), Status::kOk);
    }
    EXPECT_EQ(this->backend_->live_regions(), 3u);
  }
  EXPECT_EQ(this->backend_->live_regions(), 0u);
}

TYPED_TEST(VariablePoolTest, AnySizeFromOneByteToBeyondTheArena) {
  constexpr std::size_t kArena = 1 * kMiB;
  auto pool = this->make(config_of(kArena));
  std::map<std::uintptr_t, std::size_t> blocks;
  for (std::size_t size : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{100},
                           std::size_t{4095}, 4 * kKiB, 64 * kKiB + 1, 512 * kKiB, kArena - 16, kArena}) {
    void* p = nullptr;
    ASSERT_EQ(pool->allocate(size, 0, &p), Status::kOk) << size << ": " << error_detail();
    EXPECT_EQ(pool->block_size(p), round_up(size, 16));
    EXPECT_EQ(pool->counted_size(size), round_up(size, 16));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
    blocks[reinterpret_cast<std::uintptr_t>(p)] = pool->block_size(p);
    ASSERT_VALID(*pool);
  }
  // Larger than an arena: a dedicated arena of the rounded size.
  for (std::size_t size : {kArena + 1, 3 * kArena + 5}) {
    const Reservation before = pool->reservation();
    void* p = nullptr;
    ASSERT_EQ(pool->allocate(size, 0, &p), Status::kOk) << error_detail();
    const Reservation after = pool->reservation();
    EXPECT_EQ(after.bytes - before.bytes, round_up(size, 4096));
    EXPECT_EQ(after.regions, before.regions + 1);
    EXPECT_EQ(pool->block_size(p), round_up(size, 16));
    blocks[reinterpret_cast<std::uintptr_t>(p)] = pool->block_size(p);
    ASSERT_VALID(*pool);
  }
  std::uintptr_t end = 0;
  for (const auto& [address, size] : blocks) {
    EXPECT_GE(address, end) << "blocks overlap";
    end = address + size;
  }
  for (const auto& [address, size] : blocks) {
    std::size_t freed = 0;
    ASSERT_EQ(pool->deallocate(reinterpret_cast<void*>(address), &freed), Status::kOk) << error_detail();
    EXPECT_EQ(freed, size);
  }
  expect_all_free_once_trimmed(*pool);
  EXPECT_EQ(this->backend_->live_regions(), 0u);
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(1, 0, &p), Status::kOk);
  EXPECT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  EXPECT_VALID(*pool);
}

TYPED_TEST(VariablePoolTest, EveryAlignmentIsHonoured) {
  for (std::size_t granularity : {std::size_t{16}, std::size_t{256}}) {
    auto pool = this->make(config_of(256 * kKiB, granularity));
    std::vector<void*> blocks;
    std::vector<std::size_t> alignments = {0, 1, 2, 8};
    for (std::size_t a = granularity; a <= 64 * kKiB; a *= 2) alignments.push_back(a);
    for (std::size_t alignment : alignments) {
      const std::size_t expected = std::max(alignment, granularity);
      for (std::size_t size : {std::size_t{1}, std::size_t{100}, std::size_t{5000}}) {
        void* p = nullptr;
        ASSERT_EQ(pool->allocate(size, alignment, &p), Status::kOk) << error_detail();
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % expected, 0u) << size << " aligned to " << alignment;
        EXPECT_EQ(pool->block_size(p), round_up(size, granularity));
        blocks.push_back(p);
        ASSERT_VALID(*pool);
      }
    }
    // An alignment beyond the arena size gets a dedicated, padded arena.
    void* p = nullptr;
    ASSERT_EQ(pool->allocate(16, 1 * kMiB, &p), Status::kOk) << error_detail();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kMiB, 0u);
    blocks.push_back(p);
    ASSERT_VALID(*pool);
    for (void* block : blocks) ASSERT_EQ(pool->deallocate(block, nullptr), Status::kOk) << error_detail();
    expect_all_free(*pool);
  }
}

TYPED_TEST(VariablePoolTest, FreeingEverythingInAnyOrderLeavesOneBlockPerArena) {
  constexpr std::size_t kArena = 256 * kKiB;
  enum class Order { kForward, kReverse, kRandom };
  for (Order order : {Order::kForward, Order::kReverse, Order::kRandom}) {
    for (unsigned seed = 1; seed <= (order == Order::kRandom ? 3U : 1U); ++seed) {
      auto pool = this->make(config_of(kArena));
      std::mt19937 rng(seed);
      std::vector<void*> blocks;
      while (pool->reservation().regions < 5) {
        void* p = nullptr;
        const std::size_t alignment = rng() % 4 == 0 ? std::size_t{1} << (4 + rng() % 13) : 0;
        ASSERT_EQ(pool->allocate(1 + rng() % (16 * kKiB), alignment, &p), Status::kOk) << error_detail();
        blocks.push_back(p);
      }
      if (order == Order::kReverse) std::reverse(blocks.begin(), blocks.end());
      if (order == Order::kRandom) std::shuffle(blocks.begin(), blocks.end(), rng);
      for (std::size_t i = 0; i < blocks.size(); ++i) {
        ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk) << error_detail();
        if (i % 16 == 0) {
          ASSERT_VALID(*pool);
        }
      }
      expect_all_free(*pool);
      EXPECT_EQ(pool->fragmentation().largest_free_block, kArena);
      EXPECT_DOUBLE_EQ(pool->fragmentation().external_fragmentation, 1.0 - 1.0 / 5.0);
    }
  }
}

TYPED_TEST(VariablePoolTest, GrowsUntilMaxThenReportsFragmentation) {
  auto pool = this->make(config_of(64 * kKiB, 16, 256 * kKiB));
  std::vector<void*> blocks;
  void* p = nullptr;
  while (pool->allocate(4 * kKiB, 0, &p) == Status::kOk) blocks.push_back(p);
  EXPECT_EQ(blocks.size(), 64u);
  EXPECT_EQ(pool->reservation().bytes, 256 * kKiB);
  EXPECT_EQ(pool->reservation().regions, 4u);
  EXPECT_STREQ(error_detail(),
               "cannot allocate 4096 bytes aligned to 16: reserved 262144 of max 262144 bytes; free 0 bytes in 0 "
               "blocks, largest 0 (external fragmentation 0.00); a new arena would exceed max_bytes");
  for (std::size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
  const Snapshot before = snapshot(*pool);
  EXPECT_EQ(pool->allocate(8 * kKiB, 0, &p), Status::kOutOfPoolMemory);
  EXPECT_NE(std::string(error_detail())
                .find("cannot allocate 8192 bytes aligned to 16: reserved 262144 of max 262144 bytes; free 131072 "
                      "bytes in 32 blocks, largest 4096 (external fragmentation 0.97)"),
            std::string::npos)
      << error_detail();
  EXPECT_EQ(pool->allocate(300 * kKiB, 0, &p), Status::kOutOfPoolMemory);
  EXPECT_NE(std::string(error_detail()).find("the request exceeds max_bytes"), std::string::npos);
  EXPECT_TRUE(snapshot(*pool) == before);
  EXPECT_VALID(*pool);
  // A hole that fits is still found.
  ASSERT_EQ(pool->allocate(4 * kKiB, 0, &p), Status::kOk);
  const auto hole = std::find(blocks.begin(), blocks.end(), p);
  ASSERT_NE(hole, blocks.end());
  EXPECT_EQ((hole - blocks.begin()) % 2, 0);
  EXPECT_VALID(*pool);
}

// A power-of-two arena's block sits on a class boundary: a small carve moves
// it a class down, and the merge back leaves it listed there. It must still
// count as the largest free block and still serve a request for all of it.
TYPED_TEST(VariablePoolTest, ABlockListedAClassLowIsStillFoundAndMeasured) {
  auto pool = this->make(config_of(64 * kKiB, 16, 64 * kKiB));
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(16, 0, &p), Status::kOk);
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  expect_all_free(*pool);
  EXPECT_EQ(pool->fragmentation().largest_free_block, 64 * kKiB);
  ASSERT_EQ(pool->allocate(64 * kKiB, 0, &p), Status::kOk) << error_detail();
  EXPECT_EQ(pool->reservation().regions, 1u);
  EXPECT_VALID(*pool);
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  expect_all_free(*pool);
}

TYPED_TEST(VariablePoolTest, LastArenaShrinksToWhatMaxLeaves) {
  auto pool = this->make(config_of(64 * kKiB, 16, 100 * kKiB));
  void* a = nullptr;
  void* b = nullptr;
  void* c = nullptr;
  ASSERT_EQ(pool->allocate(64 * kKiB, 0, &a), Status::kOk);
  ASSERT_EQ(pool->allocate(16 * kKiB, 0, &b), Status::kOk) << error_detail();
  EXPECT_EQ(pool->reservation().bytes, 100 * kKiB);
  ASSERT_EQ(pool->allocate(20 * kKiB, 0, &c), Status::kOk) << error_detail();
  EXPECT_EQ(pool->fragmentation().free_bytes, 0u);
  EXPECT_EQ(pool->allocate(16, 0, &c), Status::kOutOfPoolMemory);
  EXPECT_VALID(*pool);
}

TYPED_TEST(VariablePoolTest, BackendRefusalLeavesThePoolUnchanged) {
  auto pool = this->make(config_of(64 * kKiB));
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(60 * kKiB, 0, &p), Status::kOk);
  this->backend_->refuse_after(0);
  const Snapshot before = snapshot(*pool);
  EXPECT_EQ(pool->allocate(8 * kKiB, 0, &p), Status::kOutOfPoolMemory);
  EXPECT_STREQ(error_detail(),
               "cannot allocate 8192 bytes aligned to 16: reserved 65536 bytes (no max); free 4096 bytes in 1 "
               "blocks, largest 4096 (external fragmentation 0.00); the backend refused 65536 more bytes: test "
               "backend: refusing 65536 bytes");
  EXPECT_TRUE(snapshot(*pool) == before);
  EXPECT_VALID(*pool);
  this->backend_->refuse_after(-1);
  EXPECT_EQ(pool->allocate(8 * kKiB, 0, &p), Status::kOk);
  EXPECT_VALID(*pool);
}

TYPED_TEST(VariablePoolTest, TrimReleasesOnlyWhollyFreeArenas) {
  constexpr std::size_t kArena = 64 * kKiB;
  auto pool = this->make(config_of(kArena));
  void* blocks[3] = {};
  for (void*& p : blocks) ASSERT_EQ(pool->allocate(kArena, 0, &p), Status::kOk);
  void* small = nullptr;
  ASSERT_EQ(pool->allocate(16, 0, &small), Status::kOk);
  EXPECT_EQ(pool->reservation().regions, 4u);
  EXPECT_EQ(pool->trim(), 0u);
  ASSERT_EQ(pool->deallocate(blocks[0], nullptr), Status::kOk);
  ASSERT_EQ(pool->deallocate(blocks[2], nullptr), Status::kOk);
  EXPECT_EQ(pool->trim(), 2 * kArena);
  EXPECT_EQ(pool->reservation().regions, 2u);
  EXPECT_EQ(pool->reservation().bytes, 2 * kArena);
  EXPECT_EQ(pool->reservation().peak_bytes, 4 * kArena);
  EXPECT_EQ(this->backend_->live_regions(), 2u);
  EXPECT_VALID(*pool);
  // The survivors still work, and the pool grows again.
  EXPECT_EQ(pool->block_size(blocks[1]), kArena);
  ASSERT_EQ(pool->deallocate(blocks[1], nullptr), Status::kOk);
  void* p = nullptr;
  ASSERT_EQ(pool->allocate(2 * kArena, 0, &p), Status::kOk);
  EXPECT_EQ(pool->reservation().regions, 3u);
  EXPECT_EQ(pool->trim(), kArena);
  ASSERT_EQ(pool->deallocate(p, nullptr), Status::kOk);
  ASSERT_EQ(pool->deallocate(small, nullptr), Status::kOk);
  EXPECT_EQ(pool->trim(), 3 * kArena);
  EXPECT_EQ(pool->reservation().regions, 0u);
  EXPECT_VALID(*pool);
}

TYPED_TEST(VariablePoolTest, BadRequestsAreRejectedAndChangeNothing) {
  auto pool = this->make(config_of(64 * kKiB));
  void* keep = nullptr;
  ASSERT_EQ(pool->allocate(100, 0, &keep), Status::kOk);
  const Snapshot before = snapshot(*pool);
  struct Case {
    std::size_t size;
    std::size_t alignment;
    const char* detail;
  };
  const Case cases[] = {
      {0, 0, "allocation size must be at least 1 byte"},
      {16, 24, "alignment 24 is not a power of two"},
      {16, 3, "alignment 3 is not a power of two"},
      {SIZE_MAX, 0, "overflows when rounded up to the granularity 16"},
      {SIZE_MAX - 10, 0, "overflows when rounded up to the granularity 16"},
      {SIZE_MAX / 2 + 16, SIZE_MAX / 2 + 1, "overflows when rounded up to the granularity 16"},
  };
  for (const Case& c : cases) {
    void* p = reinterpret_cast<void*>(0x1234);
    EXPECT_EQ(pool->allocate(c.size, c.alignment, &p), Status::kInvalidArgument) << c.size;
    EXPECT_NE(std::string(error_detail()).find(c.detail), std::string::npos) << error_detail();
    EXPECT_EQ(p, reinterpret_cast<void*>(0x1234)) << "out must be left untouched";
    EXPECT_TRUE(snapshot(*pool) == before);
    EXPECT_VALID(*pool);
  }
  // Huge but representable: no backend can serve it.
  void* p = nullptr;
  EXPECT_EQ(pool->allocate(std::size_t{1} << 62, 0, &p), Status::kOutOfPoolMemory);
  EXPECT_NE(std::string(error_detail()).find("cannot allocate 4611686018427387904 bytes"), std::string::npos)
      << error_detail();
  EXPECT_TRUE(snapshot(*pool) == before);
  EXPECT_VALID(*pool);
  EXPECT_EQ(pool->deallocate(keep, nullptr), Status::kOk);
}

TYPED_TEST(VariablePoolTest, InvalidFreesAreDiagnosed) {
  auto pool = this->make(config_of(64 * kKiB));
  void* p = nullptr;
  void* q = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &p), Status::kOk);
  ASSERT_EQ(pool->allocate(64, 0, &q), Status::kOk);
  const Snapshot before = snapshot(*pool);
  std::size_t freed = 12345;

  EXPECT_EQ(pool->deallocate(nullptr, &freed), Status::kInvalidFree);
  EXPECT_STREQ(error_detail(), "cannot free a null pointer") << "the words of every pool kind";
  int local = 0;
  EXPECT_EQ(pool->deallocate(&local, &freed), Status::kInvalidFree);
  EXPECT_EQ(error_detail(), hex(&local) + " is not a block of this pool");
  EXPECT_EQ(pool->deallocate(offset(p, 16), &freed), Status::kInvalidFree);
  EXPECT_EQ(error_detail(), hex(offset(p, 16)) + " points 16 bytes into the block at " + hex(p) + " (size 64)");
  EXPECT_EQ(pool->deallocate(offset(q, 1), &freed), Status::kInvalidFree);
  EXPECT_EQ(error_detail(), hex(offset(q, 1)) + " points 1 bytes into the block at " + hex(q) + " (size 64)");

  EXPECT_EQ(freed, 12345u);
  EXPECT_TRUE(snapshot(*pool) == before);
  EXPECT_VALID(*pool);
  EXPECT_EQ(pool->deallocate(p, &freed), Status::kOk);
  EXPECT_EQ(freed, 64u);
  EXPECT_EQ(pool->deallocate(q, &freed), Status::kOk);
  expect_all_free(*pool);
}

// A double free is named as such while the freed block still starts a free
// block; once it merged into free space, the pool cannot tell a double free
// from an address it never handed out, and says so.
TYPED_TEST(VariablePoolTest, DoubleFreesAreDiagnosedEvenAfterMerging) {
  auto pool = this->make(config_of(64 * kKiB));
  void* a = nullptr;
  void* b = nullptr;
  void* c = nullptr;
  ASSERT_EQ(pool->allocate(32, 0, &a), Status::kOk);
  ASSERT_EQ(pool->allocate(48, 0, &b), Status::kOk);
  ASSERT_EQ(pool->allocate(64, 0, &c), Status::kOk);
  ASSERT_EQ(b, offset(a, 32)) << "a fresh arena hands out consecutive blocks";

  // Plain: b's neighbours are both live, so it stays a block of its own.
  ASSERT_EQ(pool->deallocate(b, nullptr), Status::kOk);
  Snapshot before = snapshot(*pool);
  EXPECT_EQ(pool->deallocate(b, nullptr), Status::kDoubleFree);
  EXPECT_EQ(error_detail(), hex(b) + " is already free");
  EXPECT_TRUE(snapshot(*pool) == before);
  EXPECT_VALID(*pool);

  // After a merges with b, b lies inside the merged free block.
  ASSERT_EQ(pool->deallocate(a, nullptr), Status::kOk);
  before = snapshot(*pool);
  EXPECT_EQ(pool->deallocate(b, nullptr), Status::kInvalidFree);
  EXPECT_EQ(error_detail(), hex(b) + " is not a block in use: it lies 32 bytes into the free block at " + hex(a) +
                                " of size 80 (freed already, or never handed out)");
  EXPECT_EQ(pool->deallocate(a, nullptr), Status::kDoubleFree);
  EXPECT_EQ(error_detail(), hex(a) + " is already free");
  // c merges with the free space on both sides.
  ASSERT_EQ(pool->deallocate(c, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(c, nullptr), Status::kInvalidFree);
  EXPECT_EQ(error_detail(), hex(c) + " is not a block in use: it lies 80 bytes into the free block at " + hex(a) +
                                " of size 65536 (freed already, or never handed out)");
  expect_all_free(*pool);
}

// A seeded random mix of allocations, frees and trims, checked after every
// step against a model of the live blocks.
template <class P>
void run_reference_model(P& pool, std::uint32_t seed, int steps, bool bounded) {
  const std::size_t granularity = pool.granularity();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> log_size(0.0, std::log(static_cast<double>(kMiB)));
  std::map<std::uintptr_t, std::size_t> live;  // address -> block size
  std::vector<void*> order;                    // for picking a random victim
  std::uint64_t live_bytes = 0;
  int failures = 0;
  for (int step = 0; step < steps; ++step) {
    const auto op = rng() % 100;
    if (op == 0) {
      const Reservation before = pool.reservation();
      const std::size_t released = pool.trim();
      ASSERT_EQ(pool.reservation().bytes, before.bytes - released);
      ASSERT_EQ(pool.trim(), 0u) << "the first trim left a wholly free arena";
      for (const auto& [address, size] : live) ASSERT_EQ(pool.block_size(reinterpret_cast<void*>(address)), size);
    } else if (order.empty() || (op < 55 && order.size() < 300)) {
      const auto size = std::max<std::size_t>(1, static_cast<std::size_t>(std::exp(log_size(rng))));
      const std::size_t alignment = rng() % 2 == 0 ? 0 : std::size_t{1} << (rng() % 17);
      void* p = nullptr;
      const Status status = pool.allocate(size, alignment, &p);
      if (bounded && status == Status::kOutOfPoolMemory) {
        ++failures;
        // Exhaustion is reported only when no free block could hold it.
        if (alignment <= granularity) {
          ASSERT_LT(pool.fragmentation().largest_free_block, pool.counted_size(size));
        }
        continue;
      }
      ASSERT_EQ(status, Status::kOk) << "step " << step << ": " << error_detail();
      const auto address = reinterpret_cast<std::uintptr_t>(p);
      // Its class's size, from a slab or (aligned more) from TLSF.
      const std::size_t block = testing_support::expected_block_size(size, granularity);
      ASSERT_EQ(pool.counted_size(size), block);
      ASSERT_EQ(address % std::max(alignment, granularity), 0u) << "step " << step;
      ASSERT_EQ(pool.block_size(p), block);
      const auto next = live.lower_bound(address);
      if (next != live.end()) {
        ASSERT_LE(address + block, next->first) << "overlap at step " << step;
      }
      if (next != live.begin()) {
        const auto prev = std::prev(next);
        ASSERT_LE(prev->first + prev->second, address) << "overlap at step " << step;
      }
      live.emplace(address, block);
      order.push_back(p);
      live_bytes += block;
    } else {
      const std::size_t victim = rng() % order.size();
      void* p = order[victim];
      order[victim] = order.back();
      order.pop_back();
      std::size_t freed = 0;
      ASSERT_EQ(pool.deallocate(p, &freed), Status::kOk) << "step " << step << ": " << error_detail();
      const auto it = live.find(reinterpret_cast<std::uintptr_t>(p));
      ASSERT_EQ(freed, it->second);
      live_bytes -= it->second;
      live.erase(it);
    }
    ASSERT_EQ(pool.validate(), Status::kOk) << "step " << step << ": " << error_detail();
    ASSERT_EQ(pool.fragmentation().free_bytes, pool.reservation().bytes - live_bytes) << "step " << step;
  }
  if (bounded) {
    EXPECT_GT(failures, 0) << "the bounded run never reached its limit";
  }
  for (void* p : order) ASSERT_EQ(pool.deallocate(p, nullptr), Status::kOk) << error_detail();
  expect_all_free_once_trimmed(pool);
}

TYPED_TEST(VariablePoolTest, RandomSequenceMatchesReferenceModel) {
  for (std::size_t granularity : {std::size_t{16}, std::size_t{256}}) {
    auto pool = this->make(config_of(4 * kMiB, granularity));
    run_reference_model(*pool, static_cast<std::uint32_t>(granularity), 20000, false);
  }
}

TYPED_TEST(VariablePoolTest, RandomSequenceUnderMaxBytes) {
  auto pool = this->make(config_of(2 * kMiB, 16, 24 * kMiB));
  run_reference_model(*pool, 7, 10000, true);
  EXPECT_LE(pool->reservation().peak_bytes, 24 * kMiB);
}

// Threads fill their blocks with their id and check it before freeing: a
// block handed to two threads at once would show the other's id.
void stress(std::size_t threads, int iterations) {
  std::unique_ptr<VariablePool<ThreadSafety::kMutex>> pool;
  ASSERT_EQ(VariablePool<ThreadSafety::kMutex>::create(config_of(256 * kKiB), std::make_shared<MallocBackend>(),
                                                       &pool),
            Status::kOk);
  std::atomic<std::uint64_t> errors{0};
  std::vector<std::uint64_t> allocated(threads);
  std::vector<std::uint64_t> freed(threads);
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const auto id = static_cast<unsigned char>(t + 1);
      std::mt19937 rng(static_cast<std::uint32_t>(t));
      std::vector<std::pair<unsigned char*, std::size_t>> mine;
      const auto release = [&](std::size_t index) {
        auto [p, size] = mine[index];
        for (std::size_t i = 0; i < size; ++i) {
          if (p[i] != id) {
            errors.fetch_add(1);
            break;
          }
        }
        std::size_t block = 0;
        if (pool->deallocate(p, &block) != Status::kOk) errors.fetch_add(1);
        freed[t] += block;
        mine[index] = mine.back();
        mine.pop_back();
      };
      for (int i = 0; i < iterations; ++i) {
        if (mine.empty() || (rng() % 2 == 0 && mine.size() < 64)) {
          const std::size_t size = 1 + rng() % 4096;
          void* p = nullptr;
          if (pool->allocate(size, std::size_t{1} << (rng() % 8), &p) != Status::kOk) {
            errors.fetch_add(1);
            continue;
          }
          std::memset(p, id, size);
          allocated[t] += pool->counted_size(size);
          mine.emplace_back(static_cast<unsigned char*>(p), size);
        } else {
          release(rng() % mine.size());
        }
      }
      while (!mine.empty()) release(mine.size() - 1);
    });
  }
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(errors.load(), 0u);
  for (std::size_t t = 0; t < threads; ++t) EXPECT_EQ(allocated[t], freed[t]) << "thread " << t;
  expect_all_free_once_trimmed(*pool);
}

TEST(VariablePoolStress, TwoThreads) { stress(2, 200000); }
TEST(VariablePoolStress, EightThreads) { stress(8, 50000); }

}  // namespace
}  // namespace nativepool
