// SPDX-License-Identifier: Apache-2.0
// What NUMA placement costs and buys: the NUMA backend against the plain
// mmap backend (pool pairs and region creation, where mbind is the only
// difference), and memory bandwidth from each node's CPUs to each node's
// memory. docs/numa.md quotes the results and the command.
#include <benchmark/benchmark.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "nativepool/host_backend.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/numa_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace {

using namespace nativepool;

// range 0: the mmap backend; 1: a NUMA backend bound to the first node.
std::shared_ptr<Backend> backend_for(benchmark::State& state) {
  if (state.range(0) == 0) return std::make_shared<MmapBackend>();
  NumaTopology topology;
  std::shared_ptr<NumaBackend> numa;
  if (numa_topology(&topology) != Status::kOk ||
      NumaBackend::create({NumaPolicy::kBind, {topology.nodes.front().id}}, &numa) != Status::kOk) {
    state.SkipWithError(error_detail());
    return nullptr;
  }
  return numa;
}

// Allocate a 4 KiB block, write it, free it: a pool whose regions are
// already faulted in, so the backends differ only where the pages lie.
void BM_PairAndTouch(benchmark::State& state) {
  auto backend = backend_for(state);
  if (backend == nullptr) return;
  std::unique_ptr<Pool> pool;
  FixedPoolConfig config;
  config.block_size = 4096;
  config.alignment = 4096;
  config.initial_blocks = 256;
  if (make_fixed_pool(config, ThreadSafety::kNone, backend, &pool) != Status::kOk) std::abort();
  for (auto _ : state) {
    void* block = nullptr;
    if (pool->allocate(4096, 4096, &block) != Status::kOk) std::abort();
    std::memset(block, 1, 4096);
    benchmark::DoNotOptimize(block);
    if (pool->deallocate(block) != Status::kOk) std::abort();
  }
  state.SetLabel(std::string(backend->name()));
}

// Reserve a 2 MiB region, fault in its first page, give it back: the cost of
// a pool's growth step, mbind included.
void BM_RegionCreate(benchmark::State& state) {
  auto backend = backend_for(state);
  if (backend == nullptr) return;
  constexpr std::size_t kRegion = std::size_t{2} << 20;
  for (auto _ : state) {
    void* region = nullptr;
    if (backend->allocate(kRegion, 4096, &region) != Status::kOk) std::abort();
    static_cast<volatile char*>(region)[0] = 1;
    backend->deallocate(region, kRegion, 4096);
  }
  state.SetLabel(std::string(backend->name()));
}

// Reads 64 MiB bound to node range(1) from a thread pinned to a CPU of node
// range(0). On a one-node machine only local is measurable.
void BM_Bandwidth(benchmark::State& state) {
  NumaTopology topology;
  if (numa_topology(&topology) != Status::kOk) {
    state.SkipWithError(error_detail());
    return;
  }
  const bool remote = state.range(0) != state.range(1);
  if (topology.nodes.size() < 2 && remote) {
    state.SkipWithError("single node: remote not measurable");
    return;
  }
  if (static_cast<std::size_t>(std::max(state.range(0), state.range(1))) >= topology.nodes.size()) {
    state.SkipWithError("no such node on this machine");
    return;
  }
  const NumaNode& cpu_node = topology.nodes[static_cast<std::size_t>(state.range(0))];
  const NumaNode& memory_node = topology.nodes[static_cast<std::size_t>(state.range(1))];
  if (cpu_node.cpus.empty() || memory_node.total_bytes == 0) {
    state.SkipWithError("the node has no CPUs or no memory");
    return;
  }
  cpu_set_t saved;
  cpu_set_t only;
  CPU_ZERO(&only);
  CPU_SET(cpu_node.cpus.front(), &only);
  sched_getaffinity(0, sizeof saved, &saved);
  sched_setaffinity(0, sizeof only, &only);
  std::shared_ptr<NumaBackend> backend;
  constexpr std::size_t kBytes = std::size_t{64} << 20;
  void* region = nullptr;
  if (NumaBackend::create({NumaPolicy::kBind, {memory_node.id}}, &backend) != Status::kOk ||
      backend->allocate(kBytes, 4096, &region) != Status::kOk) {
    state.SkipWithError(error_detail());
    sched_setaffinity(0, sizeof saved, &saved);
    return;
  }
  std::memset(region, 1, kBytes);
  const auto* words = static_cast<const unsigned long*>(region);
  for (auto _ : state) {
    unsigned long sum = 0;
    for (std::size_t i = 0; i < kBytes / sizeof *words; i += 8) sum += words[i];
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(kBytes));
  state.SetLabel("CPU on node " + std::to_string(cpu_node.id) + ", memory on node " + std::to_string(memory_node.id));
  backend->deallocate(region, kBytes, 4096);
  sched_setaffinity(0, sizeof saved, &saved);
}

BENCHMARK(BM_PairAndTouch)->Arg(0)->Arg(1);
BENCHMARK(BM_RegionCreate)->Arg(0)->Arg(1);
BENCHMARK(BM_Bandwidth)->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
