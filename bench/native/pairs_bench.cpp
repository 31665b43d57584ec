// SPDX-License-Identifier: Apache-2.0
// Allocation + free pairs: FixedPool and VariablePool in each thread-safety
// mode against malloc (glibc, or jemalloc/mimalloc when preloaded), on 1 and 2
// threads sharing one pool. items_per_second counts pairs over all threads.
#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>

#include "allocators.hpp"
#include "nativepool/fixed_pool.hpp"
#include "nativepool/pool_factory.hpp"
#include "nativepool/variable_pool.hpp"

namespace {

using nativepool::ThreadSafety;

// Thread 0 builds the shared allocator before the timed loop starts, and
// destroys it after; Google Benchmark puts a barrier at both ends of the loop.
template <class Allocator>
std::unique_ptr<Allocator>& shared_instance() {
  static std::unique_ptr<Allocator> instance;
  return instance;
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

template <ThreadSafety Mode>
void BM_FixedPool(benchmark::State& state) {
  using Pool = bench::Direct<nativepool::FixedPool<Mode>>;
  const auto size = static_cast<std::size_t>(state.range(0));
  auto& pool = shared_instance<Pool>();
  if (state.thread_index() == 0) {
    nativepool::FixedPoolConfig config;
    config.block_size = size;
    config.alignment = 16;
    pool = std::make_unique<Pool>(bench::make_direct<nativepool::FixedPool<Mode>>(config));
  }
  run_pairs(state, *pool, size);
  if (state.thread_index() == 0) pool.reset();
}

// The fixed pool as JNI calls it: virtual call and statistics included.
template <ThreadSafety Mode>
void BM_ErasedFixedPool(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto& pool = shared_instance<bench::Erased>();
  if (state.thread_index() == 0) {
    nativepool::FixedPoolConfig config;
    config.block_size = size;
    config.alignment = 16;
    std::unique_ptr<nativepool::Pool> erased;
    if (nativepool::make_fixed_pool(config, Mode, std::make_shared<nativepool::MmapBackend>(), &erased) !=
        nativepool::Status::kOk) {
      throw std::runtime_error(nativepool::error_detail());
    }
    pool = std::make_unique<bench::Erased>(std::move(erased));
  }
  run_pairs(state, *pool, size);
  if (state.thread_index() == 0) pool.reset();
}

template <ThreadSafety Mode>
void BM_VariablePool(benchmark::State& state) {
  using Pool = bench::Direct<nativepool::VariablePool<Mode>>;
  auto& pool = shared_instance<Pool>();
  if (state.thread_index() == 0) {
    pool = std::make_unique<Pool>(bench::make_direct<nativepool::VariablePool<Mode>>(nativepool::VariablePoolConfig{}));
  }
  if (state.range(0) == 0) {
    run_mixed(state, *pool);
  } else {
    run_pairs(state, *pool, static_cast<std::size_t>(state.range(0)));
  }
  if (state.thread_index() == 0) pool.reset();
}

// Arg 0 = mixed sizes (16 B - 4 KiB, 256 live blocks per thread).
void fixed_sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(1024)->Arg(65536); }
void all_sizes(benchmark::internal::Benchmark* b) { fixed_sizes(b); b->Arg(0); }

}  // namespace

BENCHMARK(BM_Malloc)->Apply(all_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_FixedPool<ThreadSafety::kNone>)->Apply(fixed_sizes)->Threads(1)->UseRealTime();
BENCHMARK(BM_FixedPool<ThreadSafety::kMutex>)->Apply(fixed_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_FixedPool<ThreadSafety::kLockFree>)->Apply(fixed_sizes)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ErasedFixedPool<ThreadSafety::kNone>)->Arg(64)->Threads(1)->UseRealTime();
BENCHMARK(BM_ErasedFixedPool<ThreadSafety::kMutex>)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ErasedFixedPool<ThreadSafety::kLockFree>)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_VariablePool<ThreadSafety::kNone>)->Apply(all_sizes)->Threads(1)->UseRealTime();
BENCHMARK(BM_VariablePool<ThreadSafety::kMutex>)->Apply(all_sizes)->Threads(1)->Threads(2)->UseRealTime();

BENCHMARK_MAIN();
