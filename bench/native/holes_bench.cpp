// SPDX-License-Identifier: Apache-2.0
// Cost of an allocation + free as free holes accumulate: VariablePool (TLSF)
// should stay flat from 1k to 64k holes, where a linear first-fit list
// (LinearFirstFit) slows down in proportion to the holes it walks. And the
// cost of trim() per hole, which walks the free lists and gives the whole
// pages of each free block back (BM_VariablePoolTrim: with the holes' pages
// touched again before each trim, or left released since the last).
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "allocators.hpp"
#include "linear_first_fit.hpp"
#include "nativepool/variable_pool.hpp"

namespace {

// Holes are 64 B - 1 KiB; requests 64 B - 2 KiB, so about half of them fit no
// hole and a first-fit search must pass every hole to reach the tail.
constexpr std::size_t kMaxHole = 1024;
constexpr std::size_t kRequests = 1024;

std::array<std::size_t, kRequests> request_sizes() {
  std::array<std::size_t, kRequests> out{};
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> size(4, 128);
  for (auto& s : out) s = size(rng) * 16;
  return out;
}

// Allocates 2n blocks and frees every other one: n holes separated by live
// blocks, so none can coalesce.
template <class Alloc, class Free>
void punch_holes(std::size_t n, Alloc&& alloc, Free&& free) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::size_t> size(4, kMaxHole / 16);
  std::vector<std::pair<std::size_t, std::size_t>> blocks;  // (handle, size)
  for (std::size_t i = 0; i < 2 * n; ++i) {
    const std::size_t bytes = size(rng) * 16;
    blocks.emplace_back(alloc(bytes), bytes);
  }
  for (std::size_t i = 0; i < blocks.size(); i += 2) free(blocks[i].first, blocks[i].second);
}

void BM_VariablePoolHoles(benchmark::State& state) {
  const auto holes = static_cast<std::size_t>(state.range(0));
  auto pool = bench::make_direct<nativepool::VariablePool<nativepool::ThreadSafety::kNone>>(
      nativepool::VariablePoolConfig{});
  punch_holes(
      holes, [&](std::size_t bytes) { return reinterpret_cast<std::size_t>(pool.allocate(bytes)); },
      [&](std::size_t ptr, std::size_t) { pool.deallocate(reinterpret_cast<void*>(ptr)); });
  const auto sizes = request_sizes();
  std::size_t i = 0;
  for (auto _ : state) {
    void* ptr = pool.allocate(sizes[i++ % kRequests]);
    benchmark::DoNotOptimize(ptr);
    pool.deallocate(ptr);
  }
  state.counters["free_blocks"] = static_cast<double>(pool.algorithm().fragmentation().free_blocks);
  state.SetItemsProcessed(state.iterations());
}

void BM_LinearFirstFitHoles(benchmark::State& state) {
  const auto holes = static_cast<std::size_t>(state.range(0));
  bench::LinearFirstFit list(std::size_t{1} << 40);
  punch_holes(
      holes, [&](std::size_t bytes) { return list.allocate(bytes); },
      [&](std::size_t offset, std::size_t bytes) { list.deallocate(offset, bytes); });
  const auto sizes = request_sizes();
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t bytes = sizes[i++ % kRequests];
    const std::size_t offset = list.allocate(bytes);
    benchmark::DoNotOptimize(offset);
    list.deallocate(offset, bytes);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

// n holes of 8 KiB (two pages, TLSF's: above the slab classes) between live
// 8 KiB blocks; items are holes, so the time per item is trim()'s per hole.
void BM_VariablePoolTrim(benchmark::State& state) {
  constexpr std::size_t kBlock = 8192;
  const auto holes = static_cast<std::size_t>(state.range(0));
  const bool touched = state.range(1) != 0;
  auto pool = bench::make_direct<nativepool::VariablePool<nativepool::ThreadSafety::kNone>>(
      nativepool::VariablePoolConfig{});
  std::vector<void*> blocks(2 * holes);
  for (void*& block : blocks) block = pool.allocate(kBlock);
  for (std::size_t i = 0; i < blocks.size(); i += 2) pool.deallocate(blocks[i]);
  for (auto _ : state) {
    if (touched) {
      state.PauseTiming();
      for (std::size_t i = 0; i < blocks.size(); i += 2) std::memset(blocks[i], 1, kBlock);
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(pool.algorithm().trim());
  }
  state.counters["pages_released_per_trim"] =
      static_cast<double>(pool.algorithm().pages_released()) / static_cast<double>(state.iterations()) / 4096.0;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(holes));
}

BENCHMARK(BM_VariablePoolHoles)->RangeMultiplier(4)->Range(1024, 65536);
BENCHMARK(BM_VariablePoolTrim)->ArgsProduct({{1024, 16384}, {0, 1}})->ArgNames({"holes", "touched"});
BENCHMARK(BM_LinearFirstFitHoles)->RangeMultiplier(4)->Range(1024, 65536);

BENCHMARK_MAIN();
