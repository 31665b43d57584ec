// SPDX-License-Identifier: Apache-2.0
// What a plugin backend costs against the built-in mmap backend, through the
// same erased pools: allocation pairs (the plugin is never called: regions
// are carved by the core) and region growth (every iteration maps a fresh
// region and gives it back, so each pays the backend's whole path: for the
// memfd plugin ftruncate, two mmaps and a punched hole, plus the core's
// checks and region table). docs/plugins.md quotes the results and the command.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "nativepool/host_backend.hpp"
#include "nativepool/plugin_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace {

using namespace nativepool;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, error_detail());
  std::abort();
}

// range(0): 0 the built-in mmap backend, 1 the memfd plugin.
std::shared_ptr<Backend> backend(benchmark::State& state) {
  if (state.range(0) == 0) {
    state.SetLabel("mmap");
    return std::make_shared<MmapBackend>(false);
  }
  std::shared_ptr<PluginBackend> plugin;
  if (PluginBackend::load(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}}, &plugin) != Status::kOk) die("memfd plugin");
  state.SetLabel("memfd plugin");
  return plugin;
}

void BM_FixedPairs(benchmark::State& state) {
  FixedPoolConfig config;
  config.block_size = 64;
  std::unique_ptr<Pool> pool;
  if (make_fixed_pool(config, ThreadSafety::kNone, backend(state), &pool, SafetyLevel::kOff) != Status::kOk) {
    die("pool");
  }
  for (auto _ : state) {
    void* p = nullptr;
    if (pool->allocate(64, 0, &p) != Status::kOk) std::abort();
    benchmark::DoNotOptimize(p);
    if (pool->deallocate(p) != Status::kOk) std::abort();
  }
}

std::unique_ptr<Pool> variable_pool(benchmark::State& state, std::size_t arena) {
  VariablePoolConfig config;
  config.arena_size = arena;
  std::unique_ptr<Pool> pool;
  if (make_variable_pool(config, ThreadSafety::kNone, backend(state), &pool, SafetyLevel::kOff) != Status::kOk) {
    die("pool");
  }
  return pool;
}

void BM_VariablePairs(benchmark::State& state) {
  auto pool = variable_pool(state, std::size_t{1} << 20);
  for (auto _ : state) {
    void* p = nullptr;
    if (pool->allocate(256, 0, &p) != Status::kOk) std::abort();
    benchmark::DoNotOptimize(p);
    if (pool->deallocate(p) != Status::kOk) std::abort();
  }
}

// One 1 MiB arena mapped, its first page touched, freed and trimmed, per iteration.
void BM_RegionGrowth(benchmark::State& state) {
  constexpr std::size_t kArena = std::size_t{1} << 20;
  auto pool = variable_pool(state, kArena);
  for (auto _ : state) {
    void* p = nullptr;
    if (pool->allocate(4096, 0, &p) != Status::kOk) std::abort();
    *static_cast<volatile char*>(p) = 1;
    if (pool->deallocate(p) != Status::kOk || pool->trim() != kArena) std::abort();
  }
}

BENCHMARK(BM_FixedPairs)->Arg(0)->Arg(1);
BENCHMARK(BM_VariablePairs)->Arg(0)->Arg(1);
BENCHMARK(BM_RegionGrowth)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
