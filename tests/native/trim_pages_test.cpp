// SPDX-License-Identifier: Apache-2.0
// trim() hands the whole pages inside a variable pool's free blocks back to
// the system (Backend::release_pages) while the arenas stay reserved, on the
// host backends; and keeps them where a poisoned guard must survive.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/region_listener.hpp"
#include "nativepool/variable_pool.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kBlock = 256 * kKiB;

std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

// The pages of [p, p + size) resident now, by mincore(2).
std::size_t resident_pages(const void* p, std::size_t size) {
  const std::size_t page = page_size();
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p) & ~(std::uintptr_t{page} - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + size + page - 1) & ~(std::uintptr_t{page} - 1);
  std::vector<unsigned char> pages((end - begin) / page);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, pages.data()) != 0) return SIZE_MAX;
  std::size_t resident = 0;
  for (unsigned char flags : pages) resident += flags & 1U;
  return resident;
}

// qemu-user before 8.0 accepts MADV_DONTNEED and does nothing; a machine
// that does so cannot show pages leaving.
bool dontneed_releases_pages() {
  const std::size_t page = page_size();
  void* probe = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) return false;
  std::memset(probe, 1, page);
  const bool released = madvise(probe, page, MADV_DONTNEED) == 0 && resident_pages(probe, page) == 0 &&
                        *static_cast<volatile unsigned char*>(probe) == 0;
  munmap(probe, page);
  return released;
}

// The tests that watch pages leave: skipped where they cannot, with a 4 MiB
// arena pool over a host backend.
class ResidentPages : public ::testing::Test {
 public:
  static constexpr std::size_t kArena = 4 * 1024 * kKiB;
  template <class HostBackend>
  static std::unique_ptr<VariablePool<ThreadSafety::kMutex>> make_pool() {
    VariablePoolConfig config;
    config.arena_size = kArena;
    std::unique_ptr<VariablePool<ThreadSafety::kMutex>> pool;
    EXPECT_EQ(VariablePool<ThreadSafety::kMutex>::create(config, std::make_shared<HostBackend>(), &pool), Status::kOk);
    return pool;
  }

 protected:
  void SetUp() override {
    if (!dontneed_releases_pages()) {
      std::printf("skipped: MADV_DONTNEED leaves pages resident here (qemu-user before 8.0 ignores it)\n");
      GTEST_SKIP() << "MADV_DONTNEED leaves pages resident on this machine";
    }
  }
};

template <class HostBackend>
void free_blocks_lose_their_pages() {
  auto pool = ResidentPages::make_pool<HostBackend>();
  ASSERT_NE(pool, nullptr);
  void* blocks[3] = {};
  for (void*& block : blocks) {
    ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
    std::memset(block, 0xA5, kBlock);
  }
  const std::size_t page = page_size();
  const std::size_t whole = kBlock / page - 1;  // at least, whatever the block's alignment
  ASSERT_GE(resident_pages(blocks[1], kBlock), whole);
  ASSERT_EQ(pool->deallocate(blocks[1], nullptr), Status::kOk);

  EXPECT_EQ(pool->trim(), 0u) << "the arena still holds live blocks: nothing is unreserved";
  EXPECT_EQ(pool->reservation().bytes, ResidentPages::kArena);
  EXPECT_LE(resident_pages(blocks[1], kBlock), 2u) << "only pages the neighbours share may stay";
  EXPECT_GE(pool->pages_released(), whole * page);
  for (void* live : {blocks[0], blocks[2]}) {
    EXPECT_GE(resident_pages(live, kBlock), whole) << "live blocks keep their pages";
    EXPECT_EQ(static_cast<unsigned char*>(live)[kBlock / 2], 0xA5);
  }
  EXPECT_EQ(pool->validate(), Status::kOk);

  // The space serves again, on fresh zero pages.
  void* again = nullptr;
  ASSERT_EQ(pool->allocate(kBlock, 0, &again), Status::kOk);
  std::memset(again, 0x5A, kBlock);
  EXPECT_GE(resident_pages(again, kBlock), whole);
  for (void* block : {blocks[0], blocks[2], again}) ASSERT_EQ(pool->deallocate(block, nullptr), Status::kOk);
  EXPECT_EQ(pool->trim(), ResidentPages::kArena) << "a wholly free arena still goes back whole";
  EXPECT_EQ(pool->validate(), Status::kOk);
}

TEST_F(ResidentPages, FreeBlocksOfAnMmapPoolLoseTheirPages) { free_blocks_lose_their_pages<MmapBackend>(); }
TEST_F(ResidentPages, FreeBlocksOfAMallocPoolLoseTheirPages) { free_blocks_lose_their_pages<MallocBackend>(); }

// A slab's free blocks are free memory too: trim() releases the pages a run
// of them covers, and keeps live and parked blocks' pages.
TEST_F(ResidentPages, RunsOfFreeSlabBlocksLoseTheirPages) {
  auto pool = make_pool<MmapBackend>();
  ASSERT_NE(pool, nullptr);
  constexpr std::size_t kSize = 2048;  // a slab class: 32 blocks in one 64 KiB slab
  std::vector<void*> blocks(32);
  for (void*& block : blocks) {
    ASSERT_EQ(pool->allocate(kSize, 0, &block), Status::kOk);
    std::memset(block, 0xA5, kSize);
  }
  // Blocks 8-23 free: 32 KiB of contiguous free blocks, eight whole 4 KiB pages at least.
  for (std::size_t i = 8; i < 24; ++i) ASSERT_EQ(pool->deallocate(blocks[i], nullptr), Status::kOk);
  const std::size_t page = page_size();
  const std::size_t run = 16 * kSize;
  ASSERT_GE(resident_pages(blocks[8], run), run / page);
  const std::size_t before = pool->pages_released();
  EXPECT_EQ(pool->trim(), 0u) << "the slab still holds live blocks";
  // (pages_released() also counts the arena's free TLSF space beyond the slab)
  EXPECT_GE(pool->pages_released() - before, run - page) << "the run's whole pages";
  EXPECT_LE(resident_pages(blocks[8], run), 1u) << "at most a page the run shares with a live block";
  for (std::size_t i : {0u, 7u, 24u, 31u}) {
    EXPECT_EQ(static_cast<unsigned char*>(blocks[i])[kSize - 1], 0xA5) << "live blocks keep their bytes";
  }
  EXPECT_EQ(pool->validate(), Status::kOk) << error_detail();
  // The run serves again, on fresh zero pages.
  for (std::size_t i = 8; i < 24; ++i) {
    ASSERT_EQ(pool->allocate(kSize, 0, &blocks[i]), Status::kOk);
    std::memset(blocks[i], 0x5A, kSize);
  }
  for (void* block : blocks) ASSERT_EQ(pool->deallocate(block, nullptr), Status::kOk);
  EXPECT_EQ(pool->trim(), kArena) << "emptied, the slab goes back and the arena with it";
  EXPECT_EQ(pool->validate(), Status::kOk);
}

TEST(TrimPages, ReleasingLeavesNothingOutsideTheWholePages) {
  MmapBackend backend;
  void* region = nullptr;
  const std::size_t page = page_size();
  ASSERT_EQ(backend.allocate(4 * page, page, &region), Status::kOk);
  auto* bytes = static_cast<unsigned char*>(region);
  std::memset(bytes, 7, 4 * page);
  EXPECT_EQ(backend.release_pages(bytes + 1, page), 0u) << "no whole page inside";
  EXPECT_EQ(backend.release_pages(bytes + page / 2, 2 * page), page) << "the one whole page inside";
  EXPECT_EQ(bytes[page / 2], 7) << "the partial page before keeps its bytes";
  EXPECT_EQ(bytes[2 * page + page / 4], 7) << "the partial page after keeps its bytes";
  backend.deallocate(region, 4 * page, page);
}

// A listener may have registered the regions with a device (RDMA): the
// pages stay unless it says it only observes.
struct Listener final : RegionListener {
  explicit Listener(bool watches_only) : observes(watches_only) {}
  void mapped(void*, std::size_t) noexcept override {}
  void unmapped(void*, std::size_t) noexcept override {}
  [[nodiscard]] bool only_observes() const noexcept override { return observes; }
  bool observes;
};

TEST(TrimPages, OnlyListenersThatObserveLetPagesGo) {
  const std::size_t page = page_size();
  for (bool observes : {false, true}) {
    ListenedBackend backend(std::make_shared<MmapBackend>(), std::make_shared<Listener>(observes));
    void* region = nullptr;
    ASSERT_EQ(backend.allocate(4 * page, page, &region), Status::kOk);
    std::memset(region, 3, 4 * page);
    EXPECT_EQ(backend.release_pages(region, 4 * page), observes ? 4 * page : 0u);
    if (!observes || dontneed_releases_pages()) {
      EXPECT_EQ(static_cast<unsigned char*>(region)[page], observes ? 0 : 3);
    }
    backend.deallocate(region, 4 * page, page);
  }
}

// Canaries expect the poison in every free byte: a pool with them keeps the
// pages of its free blocks, and the guard checks still pass after trim().
TEST(TrimPages, PoisonedPoolsKeepTheirFreePages) {
  VariablePoolConfig config;
  config.arena_size = 4 * 1024 * kKiB;
  for (SafetyLevel level : {SafetyLevel::kCanaries, SafetyLevel::kFull}) {
    std::unique_ptr<Pool> pool;
    ASSERT_EQ(make_variable_pool(config, ThreadSafety::kMutex, std::make_shared<MmapBackend>(), &pool, level),
              Status::kOk);
    void* blocks[3] = {};
    for (void*& block : blocks) ASSERT_EQ(pool->allocate(kBlock, 0, &block), Status::kOk);
    ASSERT_EQ(pool->deallocate(blocks[1]), Status::kOk);
    EXPECT_EQ(pool->trim(), 0u);
    EXPECT_EQ(pool->verify(), Status::kOk) << error_detail();
    void* again = nullptr;
    ASSERT_EQ(pool->allocate(kBlock, 0, &again), Status::kOk) << error_detail();
    for (void* block : {blocks[0], blocks[2], again}) ASSERT_EQ(pool->deallocate(block), Status::kOk);
    EXPECT_EQ(pool->verify(), Status::kOk) << error_detail();
  }
}

}  // namespace
}  // namespace nativepool
