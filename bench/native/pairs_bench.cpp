// SPDX-License-Identifier: Apache-2.0
// Allocation + free pairs: FixedPool and VariablePool in each thread-safety
// mode against malloc (glibc, or jemalloc/mimalloc when preloaded), on 1 and 2
// threads sharing one pool (1, 2, 4 and 8 with thread caches, each free
// checked with a CAS or, opted in, a plain load and store), the floor of any
// thread cache behind a virtual call, and a producer thread whose blocks a
// consumer thread frees. items_per_second counts pairs over all threads.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>

#include "allocators.hpp"
#include "nativepool/block_cache.hpp"
#include "nativepool/fixed_pool.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/variable_pool.hpp"

namespace {

using nativepool::ThreadSafety;

// The allocator every thread of a run shares: built by a Setup hook before
// the threads start and destroyed by a Teardown hook after they end.
template <class Allocator>
std::unique_ptr<Allocator> shared;

template <class Allocator>
void destroy(const benchmark::State&) {
  shared<Allocator>.reset();
}

template <ThreadSafety Mode>
void create_fixed(const benchmark::State& state) {
  nativepool::FixedPoolConfig config;
  config.block_size = static_cast<std::size_t>(state.range(0));
  config.alignment = 16;
  shared<bench::Direct<nativepool::FixedPool<Mode>>> = std::make_unique<bench::Direct<nativepool::FixedPool<Mode>>>(
      bench::make_direct<nativepool::FixedPool<Mode>>(config));
}

// Capacity 0: the pool as the JNI layer got it before thread caches.
template <ThreadSafety Mode, std::size_t ThreadCache = 0,
          nativepool::FreeCheck Check = nativepool::FreeCheck::kAtomic>
void create_erased_fixed(const benchmark::State& state) {
  nativepool::FixedPoolConfig config;
  config.block_size = static_cast<std::size_t>(state.range(0));
  config.alignment = 16;
  config.thread_cache_blocks = ThreadCache;
  config.thread_cache_free_check = Check;
  std::unique_ptr<nativepool::Pool> erased;
  if (nativepool::make_fixed_pool(config, Mode, std::make_shared<nativepool::MmapBackend>(), &erased) !=
      nativepool::Status::kOk) {
    throw std::runtime_error(nativepool::error_detail());
  }
  shared<bench::Erased> = std::make_unique<bench::Erased>(std::move(erased));
}

// Thread caches 0: the pool as the factory builds it without caches, whose
// frees need not claim blocks against parking.
template <ThreadSafety Mode>
void create_variable(const benchmark::State&) {
  nativepool::VariablePoolConfig config;
  config.thread_cache_blocks = 0;
  shared<bench::Direct<nativepool::VariablePool<Mode>>> =
      std::make_unique<bench::Direct<nativepool::VariablePool<Mode>>>(
          bench::make_direct<nativepool::VariablePool<Mode>>(config));
}

// The factory's shared variable pool: thread caches for the size classes.
void create_erased_variable(const benchmark::State&) {
  std::unique_ptr<nativepool::Pool> erased;
  if (nativepool::make_variable_pool(nativepool::VariablePoolConfig{}, ThreadSafety::kMutex,
                                     std::make_shared<nativepool::MmapBackend>(), &erased) != nativepool::Status::kOk) {
    throw std::runtime_error(nativepool::error_detail());
  }
  shared<bench::Erased> = std::make_unique<bench::Erased>(std::move(erased));
}

// Sizes log-uniform in [16 B, 4 KiB], fixed seed: the same mix for everyone.
constexpr std::size_t kMixCount = 4096;
const std::array<std::uint32_t, kMixCount>& mixed_sizes() {
  static const auto sizes = [] {
    std::array<std::uint32_t, kMixCount> out{};
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> exponent(4.0, 12.0);
    for (auto& size : out) size = static_cast<std::uint32_t>(std::exp2(exponent(rng)));
    return out;
  }();
  return sizes;
}

// Mixed sizes with 256 blocks kept live per thread, freed oldest first, so
// that blocks of different sizes interleave instead of reusing one slot.
template <class Allocator>
void run_mixed(benchmark::State& state, Allocator& allocator) {
  constexpr std::size_t kWindow = 256;
  std::array<void*, kWindow> live{};
  const auto& sizes = mixed_sizes();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 977;
  for (auto& slot : live) slot = allocator.allocate(sizes[i++ % kMixCount]);
  for (auto _ : state) {
    void*& slot = live[i % kWindow];
    allocator.deallocate(slot);
    slot = allocator.allocate(sizes[i % kMixCount]);
    benchmark::DoNotOptimize(slot);
    ++i;
  }
  for (void* ptr : live) allocator.deallocate(ptr);
  state.SetItemsProcessed(state.iterations());
}

void run_pairs(benchmark::State& state, auto& allocator, std::size_t size) {
  for (auto _ : state) {
    void* ptr = allocator.allocate(size);
    benchmark::DoNotOptimize(ptr);
    allocator.deallocate(ptr);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Malloc(benchmark::State& state) {
  state.SetLabel(bench::Malloc::name());
  bench::Malloc allocator;
  if (state.range(0) == 0) {
    run_mixed(state, allocator);
  } else {
    run_pairs(state, allocator, static_cast<std::size_t>(state.range(0)));
  }
}

template <class Allocator>
void BM_Shared(benchmark::State& state) {
  if (state.range(0) == 0) {
    run_mixed(state, *shared<Allocator>);
  } else {
    run_pairs(state, *shared<Allocator>, static_cast<std::size_t>(state.range(0)));
  }
}

// Each thread takes and returns blocks through a BlockCache of its own over
// the shared (erased, counted) pool: the pool is reached once per 32 pairs at
// most, and in this loop only while warming up. Each free is checked as
// Check says.
template <nativepool::FreeCheck Check = nativepool::FreeCheck::kAtomic>
void BM_CachedFixedPool(benchmark::State& state) {
  std::unique_ptr<nativepool::BlockCache> cache;
  if (nativepool::BlockCache::create(shared<bench::Erased>->pool(), 64, &cache, Check) != nativepool::Status::kOk) {
    state.SkipWithError(nativepool::error_detail());
    return;
  }
  bench::Cached allocator(*cache);
  run_pairs(state, allocator, static_cast<std::size_t>(state.range(0)));
}

// The floor of any thread cache behind the virtual Pool interface: per pair,
// two virtual calls that each find the thread's magazine with one TLS load
// and pop or push one slot of it (a load and a store), nothing checked,
// nothing counted.
class Magazines {
 public:
  virtual ~Magazines() = default;
  virtual void* allocate(std::size_t size) noexcept = 0;
  virtual void deallocate(void* ptr) noexcept = 0;
};

class MagazineFloor final : public Magazines {
 public:
  [[gnu::noinline]] void* allocate(std::size_t /*size*/) noexcept override {
    Magazine& mine = magazine;
    return mine.blocks[--mine.count];
  }
  [[gnu::noinline]] void deallocate(void* ptr) noexcept override {
    Magazine& mine = magazine;
    mine.blocks[mine.count++] = ptr;
  }

 private:
  struct alignas(64) Magazine {
    std::size_t count = 1;
    std::array<void*, 64> blocks{};  // constant-initialised: no TLS guard
  };
  static thread_local Magazine magazine;
};
thread_local MagazineFloor::Magazine MagazineFloor::magazine;

void BM_ThreadLocalMagazineFloor(benchmark::State& state) {
  static MagazineFloor floor;
  Magazines* allocator = &floor;
  benchmark::DoNotOptimize(allocator);  // the call stays virtual
  for (auto _ : state) {
    void* ptr = allocator->allocate(64);
    benchmark::DoNotOptimize(ptr);
    allocator->deallocate(ptr);
  }
  state.SetItemsProcessed(state.iterations());
}

// A single-producer single-consumer ring: thread 0 allocates and hands each
// block over, thread 1 frees it, so every free is of another thread's block.
struct HandOver {
  static constexpr std::size_t kSlots = 1024;
  std::array<std::atomic<void*>, kSlots> slots{};
  alignas(64) std::atomic<std::size_t> produced{0};
  alignas(64) std::atomic<std::size_t> consumed{0};
};
HandOver hand_over;

void run_producer_consumer(benchmark::State& state, auto& allocator, std::size_t size) {
  if (state.thread_index() == 0) {
    hand_over.produced.store(0);
    hand_over.consumed.store(0);
  }
  std::size_t n = 0;
  if (state.thread_index() == 0) {
    for (auto _ : state) {
      void* ptr = allocator.allocate(size);
      while (n - hand_over.consumed.load(std::memory_order_acquire) == HandOver::kSlots) {
      }
      hand_over.slots[n % HandOver::kSlots].store(ptr, std::memory_order_relaxed);
      hand_over.produced.store(++n, std::memory_order_release);
    }
  } else {
    for (auto _ : state) {
      while (hand_over.produced.load(std::memory_order_acquire) == n) {
      }
      allocator.deallocate(hand_over.slots[n % HandOver::kSlots].load(std::memory_order_relaxed));
      hand_over.consumed.store(++n, std::memory_order_release);
    }
  }
  // Both threads run the same number of iterations: one pair each.
  state.SetItemsProcessed(state.iterations());
}

void BM_MallocProducerConsumer(benchmark::State& state) {
  state.SetLabel(bench::Malloc::name());
  bench::Malloc allocator;
  run_producer_consumer(state, allocator, static_cast<std::size_t>(state.range(0)));
}

void BM_ProducerConsumer(benchmark::State& state) {
  run_producer_consumer(state, *shared<bench::Erased>, static_cast<std::size_t>(state.range(0)));
}

template <ThreadSafety Mode>
using Fixed = bench::Direct<nativepool::FixedPool<Mode>>;
template <ThreadSafety Mode>
using Variable = bench::Direct<nativepool::VariablePool<Mode>>;

// Arg 0 = mixed sizes (16 B - 4 KiB, 256 live blocks per thread).
void fixed_sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(1024)->Arg(65536); }
void all_sizes(benchmark::internal::Benchmark* b) { fixed_sizes(b); b->Arg(0); }

}  // namespace

BENCHMARK(BM_Malloc)->Apply(all_sizes)->Threads(1)->Threads(2)->UseRealTime();
// Mixed sizes from 4 and 8 threads too (2 cores: oversubscribed), for the
// scaling of VariablePool's slabs next to malloc's.
BENCHMARK(BM_Malloc)->Name("BM_Malloc/mixed")->Arg(0)->Threads(4)->Threads(8)->UseRealTime();
// The 64 B pair at 4 and 8 threads, next to the thread-cached pools'.
BENCHMARK(BM_Malloc)->Arg(64)->Threads(4)->Threads(8)->UseRealTime();
// Names keep the pool and mode readable in the results: "FixedPool<kNone>/64".
BENCHMARK(BM_Shared<Fixed<ThreadSafety::kNone>>)->Name("BM_FixedPool<ThreadSafety::kNone>")
    ->Setup(create_fixed<ThreadSafety::kNone>)->Teardown(destroy<Fixed<ThreadSafety::kNone>>)
    ->Apply(fixed_sizes)->Threads(1)->UseRealTime();
BENCHMARK(BM_Shared<Fixed<ThreadSafety::kMutex>>)->Name("BM_FixedPool<ThreadSafety::kMutex>")
    ->Setup(create_fixed<ThreadSafety::kMutex>)->Teardown(destroy<Fixed<ThreadSafety::kMutex>>)
    ->Apply(fixed_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Shared<Fixed<ThreadSafety::kLockFree>>)->Name("BM_FixedPool<ThreadSafety::kLockFree>")
    ->Setup(create_fixed<ThreadSafety::kLockFree>)->Teardown(destroy<Fixed<ThreadSafety::kLockFree>>)
    ->Apply(fixed_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ErasedFixedPool<ThreadSafety::kNone>")
    ->Setup(create_erased_fixed<ThreadSafety::kNone>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Threads(1)->UseRealTime();
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ErasedFixedPool<ThreadSafety::kMutex>")
    ->Setup(create_erased_fixed<ThreadSafety::kMutex>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ErasedFixedPool<ThreadSafety::kLockFree>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CachedFixedPool<>)->Name("BM_CachedFixedPool<ThreadSafety::kMutex>")
    ->Setup(create_erased_fixed<ThreadSafety::kMutex>)->Teardown(destroy<bench::Erased>)
    ->Apply(fixed_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CachedFixedPool<>)->Name("BM_CachedFixedPool<ThreadSafety::kLockFree>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree>)->Teardown(destroy<bench::Erased>)
    ->Apply(fixed_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CachedFixedPool<nativepool::FreeCheck::kUncheckedRaces>)
    ->Name("BM_CachedFixedPoolUncheckedRaces<ThreadSafety::kLockFree>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
// The transparent thread caches of make_fixed_pool (64 blocks per thread).
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ThreadCachedFixedPool<ThreadSafety::kMutex>")
    ->Setup(create_erased_fixed<ThreadSafety::kMutex, 64>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Arg(1024)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ThreadCachedFixedPool<ThreadSafety::kLockFree>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree, 64>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Arg(1024)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
// The same with FreeCheck::kUncheckedRaces: a plain load and store for the
// state byte's CAS, racing double frees undetected.
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ThreadCachedFixedPoolUncheckedRaces<ThreadSafety::kMutex>")
    ->Setup(create_erased_fixed<ThreadSafety::kMutex, 64, nativepool::FreeCheck::kUncheckedRaces>)
    ->Teardown(destroy<bench::Erased>)->Arg(64)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ThreadCachedFixedPoolUncheckedRaces<ThreadSafety::kLockFree>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree, 64, nativepool::FreeCheck::kUncheckedRaces>)
    ->Teardown(destroy<bench::Erased>)->Arg(64)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
BENCHMARK(BM_ThreadLocalMagazineFloor)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
BENCHMARK(BM_MallocProducerConsumer)->Arg(64)->Threads(2)->UseRealTime();
BENCHMARK(BM_ProducerConsumer)->Name("BM_ProducerConsumer<ErasedFixedPool<ThreadSafety::kLockFree>>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Threads(2)->UseRealTime();
BENCHMARK(BM_ProducerConsumer)->Name("BM_ProducerConsumer<ThreadCachedFixedPool<ThreadSafety::kLockFree>>")
    ->Setup(create_erased_fixed<ThreadSafety::kLockFree, 64>)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Threads(2)->UseRealTime();
BENCHMARK(BM_Shared<Variable<ThreadSafety::kNone>>)->Name("BM_VariablePool<ThreadSafety::kNone>")
    ->Setup(create_variable<ThreadSafety::kNone>)->Teardown(destroy<Variable<ThreadSafety::kNone>>)
    ->Apply(all_sizes)->Threads(1)->UseRealTime();
BENCHMARK(BM_Shared<Variable<ThreadSafety::kMutex>>)->Name("BM_VariablePool<ThreadSafety::kMutex>")
    ->Setup(create_variable<ThreadSafety::kMutex>)->Teardown(destroy<Variable<ThreadSafety::kMutex>>)
    ->Apply(all_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Shared<Variable<ThreadSafety::kMutex>>)->Name("BM_VariablePool<ThreadSafety::kMutex>/mixed")
    ->Setup(create_variable<ThreadSafety::kMutex>)->Teardown(destroy<Variable<ThreadSafety::kMutex>>)
    ->Arg(0)->Threads(4)->Threads(8)->UseRealTime();
// make_variable_pool's transparent caches (64 blocks per thread and class).
BENCHMARK(BM_Shared<bench::Erased>)->Name("BM_ThreadCachedVariablePool<ThreadSafety::kMutex>")
    ->Setup(create_erased_variable)->Teardown(destroy<bench::Erased>)
    ->Arg(64)->Arg(0)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();

BENCHMARK_MAIN();
