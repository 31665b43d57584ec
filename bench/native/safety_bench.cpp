// SPDX-License-Identifier: Apache-2.0
// What each SafetyLevel costs, through the same type-erased Pool the JNI
// layer calls. docs/debugging.md quotes the results and the command.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace {

using namespace nativepool;

std::unique_ptr<Pool> make_pool(bool fixed, std::size_t block_size, SafetyLevel level) {
  std::unique_ptr<Pool> pool;
  Status status;
  if (fixed) {
    FixedPoolConfig config;
    config.block_size = block_size;
    status = make_fixed_pool(config, ThreadSafety::kNone, std::make_shared<MallocBackend>(), &pool, level);
  } else {
    VariablePoolConfig config;
    config.arena_size = std::size_t{16} << 20;
    status = make_variable_pool(config, ThreadSafety::kNone, std::make_shared<MallocBackend>(), &pool, level);
  }
  if (status != Status::kOk) {
    std::fprintf(stderr, "pool: %s\n", error_detail());
    std::abort();
  }
  return pool;
}

void set_label(benchmark::State& state, bool fixed) {
  state.SetLabel(std::string(fixed ? "fixed " : "variable ") +
                 safety_level_name(static_cast<SafetyLevel>(state.range(0))));
}

// Allocate and free one block of range(1) bytes: the cost added to each
// pair of calls.
void BM_AllocFree(benchmark::State& state, bool fixed) {
  const auto size = static_cast<std::size_t>(state.range(1));
  auto pool = make_pool(fixed, size, static_cast<SafetyLevel>(state.range(0)));
  for (auto _ : state) {
    void* p = nullptr;
    if (pool->allocate(size, 0, &p) != Status::kOk) std::abort();
    benchmark::DoNotOptimize(p);
    if (pool->deallocate(p) != Status::kOk) std::abort();
  }
  set_label(state, fixed);
}

// 4096 live blocks of 16..1024 bytes, each step replacing a random one:
// pools whose tables and guards do not stay in cache.
void BM_Churn(benchmark::State& state) {
  auto pool = make_pool(false, 0, static_cast<SafetyLevel>(state.range(0)));
  std::mt19937 random(42);
  std::uniform_int_distribution<std::size_t> size(16, 1024);
  std::vector<void*> live(4096);
  for (void*& p : live) {
    if (pool->allocate(size(random), 0, &p) != Status::kOk) std::abort();
  }
  std::uniform_int_distribution<std::size_t> slot(0, live.size() - 1);
  for (auto _ : state) {
    void*& p = live[slot(random)];
    if (pool->deallocate(p) != Status::kOk || pool->allocate(size(random), 0, &p) != Status::kOk) std::abort();
  }
  for (void* p : live) (void)pool->deallocate(p);
  set_label(state, false);
}

// verify() over range(1) live 64-byte blocks.
void BM_Verify(benchmark::State& state) {
  auto pool = make_pool(false, 0, static_cast<SafetyLevel>(state.range(0)));
  std::vector<void*> live(static_cast<std::size_t>(state.range(1)));
  for (void*& p : live) {
    if (pool->allocate(64, 0, &p) != Status::kOk) std::abort();
  }
  for (auto _ : state) {
    if (pool->verify() != Status::kOk) std::abort();
  }
  for (void* p : live) (void)pool->deallocate(p);
  state.SetItemsProcessed(state.iterations() * state.range(1));
  set_label(state, false);
}

BENCHMARK_CAPTURE(BM_AllocFree, fixed, true)->ArgsProduct({{0, 1, 2}, {64, 4096}});
BENCHMARK_CAPTURE(BM_AllocFree, variable, false)->ArgsProduct({{0, 1, 2}, {64, 4096}});
BENCHMARK(BM_Churn)->DenseRange(0, 2);
BENCHMARK(BM_Verify)->ArgsProduct({{0, 1, 2}, {10000}});

}  // namespace

BENCHMARK_MAIN();
