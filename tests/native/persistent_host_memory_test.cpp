// SPDX-License-Identifier: Apache-2.0
// PersistentHeap when the host runs out of memory: its free lists and block
// maps are std containers, and a failed allocation must be a refusal
// (kOutOfPoolMemory) that changes nothing, never std::bad_alloc through the
// heap's noexcept API (which would abort the JVM). The failure is injected by
// this binary's replacement of the global operator new, a test double for an
// exhausted host: while armed, it refuses every allocation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

#include "nativepool/persistent_heap.hpp"
#include "persistent_files.hpp"

namespace {
thread_local bool t_host_exhausted = false;
}  // namespace

// The replacement pair is malloc and free by design; GCC, seeing both
// inlined, takes free() of what operator new returned for a mismatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (t_host_exhausted) throw std::bad_alloc();
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return t_host_exhausted ? nullptr : std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete[](void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
#pragma GCC diagnostic pop

namespace nativepool {
namespace {

// Runs @p call with the host exhausted: it either needs no new memory and
// succeeds, or is refused with kOutOfPoolMemory and the heap's figures and
// checks unchanged; then it must succeed with memory available.
template <class Call>
bool refused_then_done(PersistentHeap& heap, Call call) {
  const PersistentStats before = heap.stats();
  t_host_exhausted = true;
  const Status status = call();
  t_host_exhausted = false;
  if (status == Status::kOk) return false;
  EXPECT_EQ(status, Status::kOutOfPoolMemory) << error_detail();
  EXPECT_NE(std::string(error_detail()).find("host memory"), std::string::npos) << error_detail();
  const PersistentStats after = heap.stats();
  EXPECT_EQ(after.live_blocks, before.live_blocks);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(after.free_bytes, before.free_bytes);
  EXPECT_EQ(after.free_extents, before.free_extents);
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.frees, before.frees);
  EXPECT_EQ(after.capacity, before.capacity);
  EXPECT_EQ(heap.validate(), Status::kOk) << error_detail();
  EXPECT_EQ(call(), Status::kOk) << error_detail();
  return true;
}

TEST(PersistentHostMemoryTest, AnExhaustedHostIsARefusalThatChangesNothing) {
  const std::string dir = persistent_files::temp_directory("np-host");
  PersistentOptions options;
  options.capacity = 256 << 10;
  options.max_capacity = 1 << 20;
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::create((dir + "/heap").c_str(), options, &heap), Status::kOk) << error_detail();
  std::uint64_t directory = 0;
  ASSERT_EQ(heap->allocate(8 * 256, PersistentHeap::root_slot(0), &directory), Status::kOk);
  int refused = 0;
  // Scattered blocks (every third freed) need ever more extents: each step
  // either fits the spare nodes or is refused, until auto-grow too.
  for (std::uint64_t i = 0; i < 240; ++i) {
    std::uint64_t block = 0;
    refused += refused_then_done(*heap, [&] { return heap->allocate(2048, directory + 8 * i, &block); }) ? 1 : 0;
    if (i % 3 == 2) refused += refused_then_done(*heap, [&] { return heap->free(directory + 8 * (i - 1)); }) ? 1 : 0;
  }
  EXPECT_GT(heap->stats().grows, 0U) << "allocations grew the heap";
  // A transaction: allocations and frees inside take their nodes up front,
  // so commit and abort never need host memory.
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(heap->begin(), Status::kOk);
    for (std::uint64_t i = 0; i < 60; i += 3) {
      std::uint64_t block = 0;
      refused += refused_then_done(*heap, [&] { return heap->tx_allocate(200, &block); }) ? 1 : 0;
      const std::uint64_t old = *static_cast<std::uint64_t*>(heap->address(directory + 8 * i));
      refused += refused_then_done(*heap, [&] { return heap->tx_free(old); }) ? 1 : 0;
    }
    t_host_exhausted = true;
    const Status ended = round == 0 ? heap->abort() : heap->commit();
    t_host_exhausted = false;
    EXPECT_EQ(ended, Status::kOk) << error_detail();
    EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
  }
  EXPECT_GT(refused, 10) << "the injected failures were reached";
  heap.reset();
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace nativepool
