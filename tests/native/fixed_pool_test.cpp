// SPDX-License-Identifier: Apache-2.0
#include "nativepool/fixed_pool.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "nativepool/host_backend.hpp"

namespace nativepool {
namespace {

/// Regions the CPU must not touch: any read or write by the pool would crash
/// the test, which proves that metadata never lives in managed memory.
class NoTouchBackend final : public Backend {
 public:
  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    void* region = ::mmap(nullptr, size + alignment, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return fail(Status::kOutOfPoolMemory, "mmap failed");
    auto base = reinterpret_cast<std::uintptr_t>(region);
    *out = reinterpret_cast<void*>((base + alignment - 1) & ~(alignment - 1));
    mappings_.emplace_back(region, size + alignment);
    return Status::kOk;
  }
  void deallocate(void*, std::size_t, std::size_t) noexcept override { ++released_; }
  MemoryKind kind() const noexcept override { return MemoryKind::kDevice; }
  std::string_view name() const noexcept override { return "no-touch"; }
  ~NoTouchBackend() override {
    for (auto& [region, size] : mappings_) ::munmap(region, size);
  }
  int released_ = 0;

 private:
  std::vector<std::pair<void*, std::size_t>> mappings_;
};

template <class ModeConstant>
class FixedPoolTest : public ::testing::Test {
 protected:
  static constexpr ThreadSafety kMode = ModeConstant::value;
  using Pool = FixedPool<kMode>;

  std::unique_ptr<Pool> make(FixedPoolConfig config, std::shared_ptr<Backend> backend = nullptr) {
    if (!backend) backend = std::make_shared<MallocBackend>();
    std::unique_ptr<Pool> pool;
    EXPECT_EQ(Pool::create(config, std::move(backend), &pool), Status::kOk) << error_detail();
    return pool;
  }
};

using Modes = ::testing::Types<std::integral_constant<ThreadSafety, ThreadSafety::kNone>,
                               std::integral_constant<ThreadSafety, ThreadSafety::kMutex>,
                               std::integral_constant<ThreadSafety, ThreadSafety::kLockFree>>;
TYPED_TEST_SUITE(FixedPoolTest, Modes);

TYPED_TEST(FixedPoolTest, BlocksAreAlignedDistinctAndNonOverlapping) {
  auto pool = this->make({.block_size = 100, .alignment = 64, .blocks_per_chunk = 16});
  ASSERT_EQ(pool->stride(), 128u);
  std::set<std::uintptr_t> seen;
  for (int i = 0; i < 100; ++i) {
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(100, 64, &block), Status::kOk);
    const auto address = reinterpret_cast<std::uintptr_t>(block);
    EXPECT_EQ(address % 64, 0u);
    auto next = seen.lower_bound(address);
    if (next != seen.end()) {
      EXPECT_GE(*next, address + 100);
    }
    if (next != seen.begin()) {
      EXPECT_LE(*std::prev(next) + 100, address);
    }
    seen.insert(address);
    std::memset(block, 0x5A, 100);
  }
  EXPECT_EQ(pool->fragmentation().free_blocks, 112u - 100u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, GrowsChunkByChunkToTheExactMaximum) {
  auto pool = this->make({.block_size = 32, .blocks_per_chunk = 8, .max_blocks = 20});
  std::vector<void*> blocks;
  for (int i = 0; i < 20; ++i) {
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(32, 0, &block), Status::kOk) << i;
    blocks.push_back(block);
    EXPECT_EQ(pool->reservation().regions, static_cast<std::uint64_t>(i / 8 + 1));
  }
  EXPECT_EQ(pool->reservation().bytes, 20u * 32u) << "the last chunk holds only 4 blocks";
  void* extra = nullptr;
  EXPECT_EQ(pool->allocate(32, 0, &extra), Status::kOutOfPoolMemory);
  EXPECT_NE(std::strstr(error_detail(), "20"), nullptr) << error_detail();
  std::size_t freed = 0;
  ASSERT_EQ(pool->deallocate(blocks[5], &freed), Status::kOk);
  EXPECT_EQ(freed, 32u);
  ASSERT_EQ(pool->allocate(32, 0, &extra), Status::kOk);
  EXPECT_EQ(extra, blocks[5]) << "LIFO reuse";
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, InitialBlocksAreReservedUpFront) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 16, .initial_blocks = 40});
  EXPECT_EQ(pool->reservation().regions, 3u);
  EXPECT_EQ(pool->fragmentation().free_blocks, 48u);
  auto capped = this->make({.block_size = 64, .blocks_per_chunk = 16, .initial_blocks = 40, .max_blocks = 20});
  EXPECT_EQ(capped->fragmentation().free_blocks, 20u);
}

TYPED_TEST(FixedPoolTest, BadRequestsAndConfigsAreRejected) {
  using Fixed = typename TestFixture::Pool;
  auto pool = this->make({.block_size = 64, .alignment = 16});
  void* block = nullptr;
  EXPECT_EQ(pool->allocate(0, 0, &block), Status::kInvalidArgument);
  EXPECT_EQ(pool->allocate(65, 0, &block), Status::kInvalidArgument);
  EXPECT_EQ(pool->allocate(64, 24, &block), Status::kInvalidArgument);
  EXPECT_EQ(pool->allocate(64, 32, &block), Status::kInvalidArgument);
  EXPECT_EQ(pool->reservation().regions, 0u) << "nothing was reserved for bad requests";
  std::unique_ptr<Fixed> bad;
  auto backend = std::make_shared<MallocBackend>();
  EXPECT_EQ(Fixed::create({.block_size = 0}, backend, &bad), Status::kInvalidArgument);
  EXPECT_EQ(Fixed::create({.block_size = 8, .alignment = 3}, backend, &bad), Status::kInvalidArgument);
  EXPECT_EQ(Fixed::create({.block_size = SIZE_MAX - 3}, backend, &bad), Status::kInvalidArgument);
  EXPECT_EQ(Fixed::create({.block_size = 8, .blocks_per_chunk = 1, .max_blocks = SIZE_MAX}, backend, &bad),
            Status::kInvalidArgument);
  EXPECT_EQ(Fixed::create({.block_size = 8}, nullptr, &bad), Status::kInvalidArgument);
  EXPECT_EQ(bad, nullptr);
}

TYPED_TEST(FixedPoolTest, EveryBadFreeIsDetectedAndChangesNothing) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 4});
  void* a = nullptr;
  void* b = nullptr;
  ASSERT_EQ(pool->allocate(64, 0, &a), Status::kOk);
  ASSERT_EQ(pool->allocate(64, 0, &b), Status::kOk);
  const auto free_before = pool->fragmentation().free_blocks;
  int on_stack = 0;
  void* heap = std::malloc(64);
  EXPECT_EQ(pool->deallocate(nullptr, nullptr), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(&on_stack, nullptr), Status::kInvalidFree);
  EXPECT_EQ(pool->deallocate(heap, nullptr), Status::kInvalidFree);
  EXPECT_NE(std::strstr(error_detail(), "not a block of this pool"), nullptr) << error_detail();
  EXPECT_EQ(pool->deallocate(static_cast<char*>(a) + 8, nullptr), Status::kInvalidFree);
  EXPECT_NE(std::strstr(error_detail(), "8 bytes into"), nullptr) << error_detail();
  EXPECT_EQ(pool->deallocate(static_cast<char*>(a) + 4 * 64, nullptr), Status::kInvalidFree) << "past the chunk";
  std::free(heap);
  ASSERT_EQ(pool->deallocate(a, nullptr), Status::kOk);
  EXPECT_EQ(pool->deallocate(a, nullptr), Status::kDoubleFree);
  EXPECT_NE(std::strstr(error_detail(), "already free"), nullptr) << error_detail();
  EXPECT_EQ(pool->fragmentation().free_blocks, free_before + 1);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  ASSERT_EQ(pool->deallocate(b, nullptr), Status::kOk);
}

TYPED_TEST(FixedPoolTest, TrimReleasesOnlyWhollyFreeChunks) {
  auto pool = this->make({.block_size = 64, .blocks_per_chunk = 4});
  std::vector<void*> blocks(12);
  for (auto& block : blocks) ASSERT_EQ(pool->allocate(64, 0, &block), Status::kOk);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
  ASSERT_EQ(pool->deallocate(blocks[9], nullptr), Status::kOk);  // chunk 3 keeps 3 live blocks
  EXPECT_EQ(pool->trim(), 2u * 4u * 64u);
  EXPECT_EQ(pool->reservation().regions, 1u);
  EXPECT_EQ(pool->fragmentation().free_blocks, 1u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  EXPECT_EQ(pool->deallocate(blocks[0], nullptr), Status::kInvalidFree) << "its chunk is gone";
  EXPECT_EQ(pool->trim(), 0u);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(pool->allocate(64, 0, &blocks[i]), Status::kOk);
  EXPECT_EQ(pool->reservation().regions, 3u);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

TYPED_TEST(FixedPoolTest, NeverTouchesManagedMemory) {
  auto backend = std::make_shared<NoTouchBackend>();
  {
    auto pool = this->make({.block_size = 256, .blocks_per_chunk = 8, .max_blocks = 40}, backend);
    std::vector<void*> blocks(40);
    for (auto& block : blocks) ASSERT_EQ(pool->allocate(256, 0, &block), Status::kOk);
    for (std::size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
    EXPECT_EQ(pool->deallocate(blocks[0], nullptr), Status::kDoubleFree);
    for (std::size_t i = 1; i < blocks.size(); i += 2) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
    EXPECT_EQ(pool->trim(), 40u * 256u);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
  EXPECT_EQ(backend->released_, 5);
}

TYPED_TEST(FixedPoolTest, RandomSequenceMatchesAReferenceModel) {
  auto pool = this->make({.block_size = 48, .blocks_per_chunk = 32, .max_blocks = 1000});
  std::mt19937_64 random(3);
  std::vector<void*> live;
  std::set<void*> live_set;
  for (int step = 0; step < 5000; ++step) {
    const auto choice = random() % 100;
    if (choice < 55) {
      void* block = nullptr;
      const Status status = pool->allocate(1 + random() % 48, 0, &block);
      if (live.size() == 1000) {
        ASSERT_EQ(status, Status::kOutOfPoolMemory);
      } else {
        ASSERT_EQ(status, Status::kOk);
        ASSERT_TRUE(live_set.insert(block).second) << "handed out twice";
        live.push_back(block);
      }
    } else if (choice < 98 && !live.empty()) {
      const std::size_t victim = random() % live.size();
      ASSERT_EQ(pool->deallocate(live[victim], nullptr), Status::kOk);
      live_set.erase(live[victim]);
      live[victim] = live.back();
      live.pop_back();
    } else {
      pool->trim();
    }
    const Reservation reserved = pool->reservation();
    ASSERT_EQ(pool->fragmentation().free_blocks * 48 + live.size() * 48, reserved.bytes);
    if (step % 50 == 0) {
      ASSERT_EQ(pool->validate(), Status::kOk) << error_detail();
    }
  }
}

template <class ModeConstant>
class ConcurrentFixedPoolTest : public FixedPoolTest<ModeConstant> {};
using ConcurrentModes = ::testing::Types<std::integral_constant<ThreadSafety, ThreadSafety::kMutex>,
                                         std::integral_constant<ThreadSafety, ThreadSafety::kLockFree>>;
TYPED_TEST_SUITE(ConcurrentFixedPoolTest, ConcurrentModes);

TYPED_TEST(ConcurrentFixedPoolTest, ThreadsNeverShareABlockAndAccountingIsExact) {
  for (const int threads : {2, 8}) {
    auto pool = this->make({.block_size = 64, .blocks_per_chunk = 64});
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&pool, &failures, t] {
        std::mt19937 random(static_cast<unsigned>(t));
        std::vector<std::uint64_t*> held;
        for (int i = 0; i < 50000; ++i) {
          if (held.empty() || random() % 2 == 0) {
            void* block = nullptr;
            if (pool->allocate(64, 0, &block) != Status::kOk) {
              ++failures;
              return;
            }
            *static_cast<std::uint64_t*>(block) = static_cast<std::uint64_t>(t);
            held.push_back(static_cast<std::uint64_t*>(block));
          } else {
            if (*held.back() != static_cast<std::uint64_t>(t)) ++failures;
            if (pool->deallocate(held.back(), nullptr) != Status::kOk) ++failures;
            held.pop_back();
          }
        }
        for (auto* block : held) {
          if (*block != static_cast<std::uint64_t>(t) || pool->deallocate(block, nullptr) != Status::kOk) ++failures;
        }
      });
    }
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(failures.load(), 0) << threads << " threads";
    EXPECT_EQ(pool->fragmentation().free_blocks * 64, pool->reservation().bytes);
    EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  }
}

TYPED_TEST(ConcurrentFixedPoolTest, TrimWhileOthersAllocateAndFree) {
  auto pool = this->make({.block_size = 32, .blocks_per_chunk = 16});
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&] {
      std::vector<void*> held;
      for (int round = 0; round < 3000; ++round) {
        for (int i = 0; i < 40; ++i) {
          void* block = nullptr;
          if (pool->allocate(32, 0, &block) != Status::kOk) ++failures;
          held.push_back(block);
        }
        for (void* block : held) {
          if (pool->deallocate(block, nullptr) != Status::kOk) ++failures;
        }
        held.clear();
      }
    });
  }
  std::thread trimmer([&] {
    while (!stop.load()) pool->trim();
  });
  for (auto& worker : workers) worker.join();
  stop = true;
  trimmer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pool->fragmentation().free_blocks * 32, pool->reservation().bytes);
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
}

}  // namespace
}  // namespace nativepool
