// SPDX-License-Identifier: Apache-2.0
// NUMA on the real machine: topology, policies, placement, and pools over the
// NUMA backend. Tests that need NUMA skip with the reason where it is absent;
// numa_unavailable_test covers that case on purpose.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "nativepool/backends.hpp"
#include "nativepool/features.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/numa_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

#define REQUIRE_NUMA() \
  if (!numa_available()) GTEST_SKIP() << "NUMA unavailable: " << numa_unavailable_reason()

bool detail_has(const char* text) { return std::strstr(error_detail(), text) != nullptr; }

std::shared_ptr<NumaBackend> bound_to(int node) {
  std::shared_ptr<NumaBackend> backend;
  EXPECT_EQ(NumaBackend::create({NumaPolicy::kBind, {node}}, &backend), Status::kOk) << error_detail();
  return backend;
}

TEST(Numa, FeaturesMatchTheProbe) {
  const Features features = probe_features();
  EXPECT_TRUE(features.numa_compiled);
  EXPECT_EQ(features.numa_available, numa_available());
  EXPECT_EQ(features.numa_nodes, numa_node_count());
  // Exactly one of: nodes, or a reason.
  EXPECT_EQ(features.numa_available, features.numa_unavailable_reason[0] == '\0')
      << features.numa_unavailable_reason;
  EXPECT_EQ(features.numa_available, features.numa_nodes > 0);
}

TEST(Numa, TopologyDescribesEveryNodeAndTheCallersNode) {
  REQUIRE_NUMA();
  NumaTopology topology;
  ASSERT_EQ(numa_topology(&topology), Status::kOk) << error_detail();
  ASSERT_EQ(static_cast<int>(topology.nodes.size()), numa_node_count());
  long cpus = 0;
  for (std::size_t i = 0; i < topology.nodes.size(); ++i) {
    const NumaNode& node = topology.nodes[i];
    ASSERT_EQ(node.distances.size(), topology.nodes.size());
    EXPECT_EQ(node.distances[i], 10) << "a node's distance to itself is 10 (ACPI SLIT)";
    EXPECT_LE(node.free_bytes, node.total_bytes);
    EXPECT_TRUE(std::is_sorted(node.cpus.begin(), node.cpus.end()));
    cpus += static_cast<long>(node.cpus.size());
  }
  EXPECT_EQ(cpus, ::sysconf(_SC_NPROCESSORS_CONF));
  const auto current = std::find_if(topology.nodes.begin(), topology.nodes.end(),
                                    [&](const NumaNode& node) { return node.id == topology.current_node; });
  ASSERT_NE(current, topology.nodes.end());
  EXPECT_GT(current->total_bytes, 0);
}

TEST(Numa, TheCurrentNodeOwnsTheCurrentCpu) {
  REQUIRE_NUMA();
  cpu_set_t only;
  CPU_ZERO(&only);
  const int cpu = ::sched_getcpu();
  CPU_SET(cpu, &only);
  cpu_set_t saved;
  ASSERT_EQ(::sched_getaffinity(0, sizeof saved, &saved), 0);
  ASSERT_EQ(::sched_setaffinity(0, sizeof only, &only), 0);  // no migration between the two reads
  NumaTopology topology;
  const Status status = numa_topology(&topology);
  ::sched_setaffinity(0, sizeof saved, &saved);
  ASSERT_EQ(status, Status::kOk) << error_detail();
  const auto owner = std::find_if(topology.nodes.begin(), topology.nodes.end(), [&](const NumaNode& node) {
    return std::find(node.cpus.begin(), node.cpus.end(), cpu) != node.cpus.end();
  });
  ASSERT_NE(owner, topology.nodes.end());
  EXPECT_EQ(owner->id, topology.current_node);
}

TEST(Numa, BadSpecsAreRefusedWithTheNodeAndTheReason) {
  REQUIRE_NUMA();
  const int missing = numa_node_count();  // ids may have gaps, but the count never names a node on one-node machines
  NumaSpec spec{NumaPolicy::kBind, {missing + 64}};
  EXPECT_EQ(numa_check_spec(&spec), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has(("NUMA node " + std::to_string(missing + 64) + " does not exist").c_str()))
      << error_detail();
  spec = {NumaPolicy::kBind, {-1}};
  EXPECT_EQ(numa_check_spec(&spec), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has("NUMA node -1 does not exist")) << error_detail();
  spec = {NumaPolicy::kInterleave, {}};
  EXPECT_EQ(numa_check_spec(&spec), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has("INTERLEAVE needs at least one node")) << error_detail();
  spec = {NumaPolicy::kLocal, {0}};
  EXPECT_EQ(numa_check_spec(&spec), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has("LOCAL takes no nodes")) << error_detail();
  spec = {NumaPolicy::kPreferred, {0, missing + 64}};
  EXPECT_EQ(numa_check_spec(&spec), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has("PREFERRED takes one node, got 2")) << error_detail();
  spec = {static_cast<NumaPolicy>(9), {0}};
  EXPECT_EQ(numa_check_spec(&spec), Status::kInvalidArgument);
  std::shared_ptr<NumaBackend> backend;
  EXPECT_EQ(NumaBackend::create({NumaPolicy::kBind, {missing + 64}}, &backend), Status::kInvalidArgument);
  EXPECT_EQ(backend, nullptr);
}

TEST(Numa, SpecsAreNormalised) {
  REQUIRE_NUMA();
  NumaSpec spec{NumaPolicy::kInterleave, {0, 0, 0}};
  ASSERT_EQ(numa_check_spec(&spec), Status::kOk) << error_detail();
  EXPECT_EQ(spec.nodes, std::vector<int>{0});
}

TEST(Numa, BoundPagesLieOnTheirNodeOnceTouched) {
  REQUIRE_NUMA();
  const auto backend = bound_to(0);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->kind(), MemoryKind::kNumaHost);
  EXPECT_EQ(backend->device(), 0);
  EXPECT_EQ(backend->name(), "numa:bind:0");
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes = 300 * page;  // more than one move_pages batch
  void* region = nullptr;
  ASSERT_EQ(backend->allocate(bytes, 4096, &region), Status::kOk) << error_detail();
  NumaPlacement placement;
  ASSERT_EQ(numa_placement(region, bytes, &placement), Status::kOk) << error_detail();
  EXPECT_EQ(placement.not_present, 300u) << "nothing touched yet";
  EXPECT_EQ(placement.page_size, page);
  std::memset(region, 1, bytes / 2);
  ASSERT_EQ(numa_placement(region, bytes, &placement), Status::kOk) << error_detail();
  EXPECT_EQ(placement.pages_on_node.at(0), 150u);
  EXPECT_EQ(placement.not_present, 150u);
  ASSERT_EQ(backend->placement(&placement), Status::kOk) << error_detail();
  EXPECT_EQ(placement.pages_on_node.at(0), 150u) << "the backend counts the regions it holds";
  backend->deallocate(region, bytes, 4096);
  ASSERT_EQ(backend->placement(&placement), Status::kOk) << error_detail();
  EXPECT_TRUE(placement.pages_on_node.empty());
}

TEST(Numa, EveryPolicyPlacesPagesOnAnAllowedNode) {
  REQUIRE_NUMA();
  for (const NumaSpec& spec : {NumaSpec{NumaPolicy::kBind, {0}}, NumaSpec{NumaPolicy::kPreferred, {0}},
                               NumaSpec{NumaPolicy::kInterleave, {0}}, NumaSpec{NumaPolicy::kLocal, {}}}) {
    std::shared_ptr<NumaBackend> backend;
    ASSERT_EQ(NumaBackend::create(spec, &backend), Status::kOk) << error_detail();
    void* region = nullptr;
    ASSERT_EQ(backend->allocate(1 << 20, 1 << 20, &region), Status::kOk) << error_detail();
    std::memset(region, 7, 1 << 20);
    NumaPlacement placement;
    ASSERT_EQ(backend->placement(&placement), Status::kOk) << error_detail();
    std::size_t pages = 0;
    for (std::size_t count : placement.pages_on_node) pages += count;
    EXPECT_EQ(pages, (std::size_t{1} << 20) / placement.page_size) << backend->name();
    if (numa_node_count() == 1) {
      EXPECT_EQ(placement.pages_on_node.at(0), pages);
    }
    backend->deallocate(region, 1 << 20, 1 << 20);
  }
}

TEST(Numa, PlacementOfAnUnmappedRangeIsAnInvalidArgument) {
  REQUIRE_NUMA();
  NumaPlacement placement;
  EXPECT_EQ(numa_placement(reinterpret_cast<void*>(4096), 4096, &placement), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has("not mapped")) << error_detail();
  EXPECT_EQ(numa_placement(&placement, 0, &placement), Status::kInvalidArgument);
}

TEST(Numa, RegisteredSpecsAreSharedAndBuildBackends) {
  REQUIRE_NUMA();
  int a = -1;
  int b = -1;
  ASSERT_EQ(register_numa_spec({NumaPolicy::kInterleave, {0, 0}}, &a), Status::kOk) << error_detail();
  ASSERT_EQ(register_numa_spec({NumaPolicy::kInterleave, {0}}, &b), Status::kOk) << error_detail();
  EXPECT_EQ(a, b);
  int local = -1;
  ASSERT_EQ(register_numa_spec({NumaPolicy::kLocal, {}}, &local), Status::kOk) << error_detail();
  EXPECT_NE(local, a);
  std::shared_ptr<Backend> backend;
  ASSERT_EQ(make_backend(BackendType::kNuma, a, &backend), Status::kOk) << error_detail();
  EXPECT_EQ(backend->name(), "numa:interleave:0");
  EXPECT_EQ(make_backend(BackendType::kNuma, 100000, &backend), Status::kInvalidArgument);
  EXPECT_TRUE(detail_has("unknown NUMA backend id 100000")) << error_detail();
  EXPECT_EQ(register_numa_spec({NumaPolicy::kBind, {}}, &a), Status::kInvalidArgument);
}

// The pool suites' main cycle, over the NUMA backend: every pool type,
// thread safety and safety level, with exact stats and bound pages.
class NumaPoolTest : public ::testing::TestWithParam<std::tuple<bool, ThreadSafety, SafetyLevel>> {};

TEST_P(NumaPoolTest, PoolsWorkUnchangedAndTheirPagesStayOnTheNode) {
  REQUIRE_NUMA();
  const auto [fixed, mode, safety] = GetParam();
  const auto backend = bound_to(0);
  ASSERT_NE(backend, nullptr);
  std::unique_ptr<Pool> pool;
  if (fixed) {
    FixedPoolConfig config;
    config.block_size = 1024;
    config.alignment = 64;
    config.max_blocks = 4096;
    ASSERT_EQ(make_fixed_pool(config, mode, backend, &pool, safety), Status::kOk) << error_detail();
  } else {
    VariablePoolConfig config;
    config.arena_size = 1 << 20;
    if (mode == ThreadSafety::kLockFree) {  // as over any backend
      EXPECT_EQ(make_variable_pool(config, mode, backend, &pool, safety), Status::kInvalidArgument);
      return;
    }
    ASSERT_EQ(make_variable_pool(config, mode, backend, &pool, safety), Status::kOk) << error_detail();
  }
  EXPECT_EQ(pool->info().kind, MemoryKind::kNumaHost);
  EXPECT_EQ(pool->info().device, 0);
  EXPECT_EQ(pool->info().backend, "numa:bind:0");
  std::vector<void*> blocks(2000);
  for (void*& block : blocks) {
    ASSERT_EQ(pool->allocate(1024, 64, &block), Status::kOk) << error_detail();
    std::memset(block, 0x5A, 1024);
  }
  PoolStats stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 2000u);
  EXPECT_EQ(stats.bytes_in_use, 2000u * 1024u);
  NumaPlacement placement;
  ASSERT_EQ(backend->placement(&placement), Status::kOk) << error_detail();
  EXPECT_GE(placement.pages_on_node.at(0) * placement.page_size, 2000u * 1024u);
  for (std::size_t i = 1; i < placement.pages_on_node.size(); ++i) EXPECT_EQ(placement.pages_on_node[i], 0u);
  for (void* block : blocks) ASSERT_EQ(pool->deallocate(block), Status::kOk) << error_detail();
  EXPECT_EQ(pool->deallocate(blocks[0]), Status::kDoubleFree);
  EXPECT_EQ(pool->validate(), Status::kOk);
  EXPECT_EQ(pool->verify(), Status::kOk);
  stats = pool->stats();
  EXPECT_EQ(stats.live_blocks, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_EQ(stats.frees, 2000u);
}

INSTANTIATE_TEST_SUITE_P(
    EveryPoolOverNuma, NumaPoolTest,
    ::testing::Combine(::testing::Bool(),
                       ::testing::Values(ThreadSafety::kNone, ThreadSafety::kMutex, ThreadSafety::kLockFree),
                       ::testing::Values(SafetyLevel::kOff, SafetyLevel::kCanaries, SafetyLevel::kFull)));

}  // namespace
}  // namespace nativepool
