// SPDX-License-Identifier: Apache-2.0
// Node-local pools. The routing logic runs over SimulatedNodes: N pretend
// nodes, each thread told which one it is on, all backed by memory of the
// real machine (bound to its node 0 where NUMA works). The real group, over
// this machine's nodes, is tested where NUMA is available.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "nativepool/backends.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/node_local_pool.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/numa_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

/// A simulation, not NUMA: the node a thread is on is whatever on_node() last
/// said for that thread.
class SimulatedNodes final : public NodeLocator {
 public:
  [[nodiscard]] int current_node() const noexcept override { return node_; }
  static void on_node(int node) noexcept { node_ = node; }

 private:
  static thread_local int node_;
};
thread_local int SimulatedNodes::node_ = 0;

// Every simulated node's memory is the real node 0 where NUMA works, plain
// mappings where it does not.
Status real_memory(int, std::shared_ptr<Backend>* out) noexcept {
  if (!numa_available()) {
    *out = std::make_shared<MmapBackend>();
    return Status::kOk;
  }
  std::shared_ptr<NumaBackend> backend;
  const Status status = NumaBackend::create({NumaPolicy::kBind, {0}}, &backend);
  *out = std::move(backend);
  return status;
}

NodePoolMaker fixed_pools(ThreadSafety mode, std::size_t max_blocks = 0) {
  return [mode, max_blocks](std::shared_ptr<Backend> backend, std::unique_ptr<Pool>* out) {
    FixedPoolConfig config;
    config.block_size = 256;
    config.blocks_per_chunk = 64;
    config.max_blocks = max_blocks;
    return make_fixed_pool(config, mode, std::move(backend), out);
  };
}

std::unique_ptr<NodeLocalPool> simulated(std::vector<int> nodes, NodePoolMaker make_pool,
                                         const std::map<int, int>& home = {}) {
  std::unique_ptr<NodeLocalPool> group;
  EXPECT_EQ(NodeLocalPool::create(std::move(nodes), real_memory, make_pool, std::make_shared<SimulatedNodes>(),
                                  &group, home),
            Status::kOk)
      << error_detail();
  return group;
}

std::uint64_t live_on(const NodeLocalPool& group, int node) {
  PoolStats stats;
  EXPECT_EQ(group.node_stats(node, &stats), Status::kOk) << error_detail();
  return stats.live_blocks;
}

TEST(NodeLocalPool, EachThreadAllocatesFromItsNodeAndFreesGoToTheOwner) {
  auto group = simulated({0, 1, 2, 3}, fixed_pools(ThreadSafety::kMutex));
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->nodes(), (std::vector<int>{0, 1, 2, 3}));
  std::vector<std::vector<void*>> blocks(4);
  std::vector<std::thread> threads;
  for (int node = 0; node < 4; ++node) {
    threads.emplace_back([&, node] {
      SimulatedNodes::on_node(node);
      EXPECT_EQ(group->home_node(), node);
      for (int i = 0; i < 10 * (node + 1); ++i) {
        void* block = nullptr;
        ASSERT_EQ(group->allocate(256, 16, &block), Status::kOk) << error_detail();
        std::memset(block, node, 256);
        blocks[static_cast<std::size_t>(node)].push_back(block);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int node = 0; node < 4; ++node) {
    EXPECT_EQ(live_on(*group, node), 10u * static_cast<unsigned>(node + 1));
    for (void* block : blocks[static_cast<std::size_t>(node)]) EXPECT_EQ(group->owner(block), node);
  }
  EXPECT_EQ(group->stats().live_blocks, 100u);
  EXPECT_EQ(group->stats().bytes_in_use, 100u * 256u);

  // A thread on node 3 frees node 0's blocks: they go back to node 0's pool.
  std::thread remote([&] {
    SimulatedNodes::on_node(3);
    for (void* block : blocks[0]) EXPECT_EQ(group->deallocate(block), Status::kOk) << error_detail();
  });
  remote.join();
  EXPECT_EQ(live_on(*group, 0), 0u);
  EXPECT_EQ(live_on(*group, 3), 40u);
  PoolStats node0;
  ASSERT_EQ(group->node_stats(0, &node0), Status::kOk);
  EXPECT_EQ(node0.frees, 10u);
  EXPECT_EQ(group->deallocate(blocks[0][0]), Status::kDoubleFree) << "the owner still knows the block";
  EXPECT_EQ(group->stats().frees, 10u);
  EXPECT_EQ(group->validate(), Status::kOk);
}

TEST(NodeLocalPool, BatchFreesSplitIntoRunsPerOwner) {
  auto group = simulated({0, 1}, fixed_pools(ThreadSafety::kNone));
  ASSERT_NE(group, nullptr);
  void* mixed[6];
  for (int i = 0; i < 6; ++i) {
    SimulatedNodes::on_node(i % 3 == 0 ? 1 : 0);
    ASSERT_EQ(group->allocate(256, 16, &mixed[i]), Status::kOk);
  }
  EXPECT_EQ(live_on(*group, 1), 2u);
  int foreign = 0;
  void* with_foreign[3] = {mixed[0], mixed[1], &foreign};
  std::size_t freed = 0;
  EXPECT_EQ(group->deallocate_batch(with_foreign, 3, &freed), Status::kInvalidFree);
  EXPECT_EQ(freed, 2u) << "stops at the foreign pointer, after the ones before it";
  EXPECT_NE(std::strstr(error_detail(), "lies in no region of this node-local pool"), nullptr) << error_detail();
  ASSERT_EQ(group->deallocate_batch(mixed + 2, 4, &freed), Status::kOk) << error_detail();
  EXPECT_EQ(freed, 4u);
  EXPECT_EQ(group->stats().live_blocks, 0u);
  EXPECT_EQ(group->deallocate(&foreign), Status::kInvalidFree);
}

TEST(NodeLocalPool, BatchAllocationsComeFromTheCallersNode) {
  auto group = simulated({0, 1}, fixed_pools(ThreadSafety::kLockFree));
  ASSERT_NE(group, nullptr);
  SimulatedNodes::on_node(1);
  void* blocks[32];
  ASSERT_EQ(group->allocate_batch(256, 16, blocks, 32), Status::kOk) << error_detail();
  EXPECT_EQ(live_on(*group, 1), 32u);
  EXPECT_EQ(live_on(*group, 0), 0u);
  std::size_t freed = 0;
  ASSERT_EQ(group->deallocate_batch(blocks, 32, &freed), Status::kOk);
}

TEST(NodeLocalPool, NodesWithoutAPoolAreServedByTheirHome) {
  auto group = simulated({0, 2}, fixed_pools(ThreadSafety::kMutex), {{1, 2}});
  ASSERT_NE(group, nullptr);
  SimulatedNodes::on_node(1);
  EXPECT_EQ(group->home_node(), 2);
  SimulatedNodes::on_node(7);
  EXPECT_EQ(group->home_node(), 0) << "unknown nodes go to the first node";
  PoolStats stats;
  EXPECT_EQ(group->node_stats(1, &stats), Status::kInvalidArgument);
  std::unique_ptr<NodeLocalPool> bad;
  EXPECT_EQ(NodeLocalPool::create({0, 2}, real_memory, fixed_pools(ThreadSafety::kMutex),
                                  std::make_shared<SimulatedNodes>(), &bad, {{1, 5}}),
            Status::kInvalidArgument);
  EXPECT_NE(std::strstr(error_detail(), "node 1 cannot be served by node 5"), nullptr) << error_detail();
  EXPECT_EQ(NodeLocalPool::create({}, real_memory, fixed_pools(ThreadSafety::kMutex),
                                  std::make_shared<SimulatedNodes>(), &bad),
            Status::kInvalidArgument);
  EXPECT_EQ(NodeLocalPool::create({1, 1}, real_memory, fixed_pools(ThreadSafety::kMutex),
                                  std::make_shared<SimulatedNodes>(), &bad),
            Status::kInvalidArgument);
  EXPECT_EQ(bad, nullptr);
}

TEST(NodeLocalPool, AFullNodeFailsInsteadOfSpillingAndTrimReturnsRegions) {
  auto group = simulated({0, 1}, fixed_pools(ThreadSafety::kMutex, 64));
  ASSERT_NE(group, nullptr);
  SimulatedNodes::on_node(0);
  std::vector<void*> blocks(64);
  for (void*& block : blocks) ASSERT_EQ(group->allocate(256, 16, &block), Status::kOk);
  void* one_more = nullptr;
  EXPECT_EQ(group->allocate(256, 16, &one_more), Status::kOutOfPoolMemory);
  EXPECT_EQ(live_on(*group, 1), 0u);
  EXPECT_EQ(group->stats().failures, 1u);
  for (void* block : blocks) ASSERT_EQ(group->deallocate(block), Status::kOk);
  EXPECT_GT(group->trim(), 0u);
  EXPECT_EQ(group->owner(blocks[0]), -1) << "a trimmed region leaves the directory";
  EXPECT_EQ(group->stats().reserved.regions, 0u);
}

TEST(NodeLocalPool, InfoNamesEveryNodesBackend) {
  auto group = simulated({0, 1}, fixed_pools(ThreadSafety::kMutex));
  ASSERT_NE(group, nullptr);
  const std::string name = numa_available() ? "numa:bind:0" : "mmap";
  EXPECT_EQ(group->info().backend, "node-local[" + name + "," + name + "]");
  EXPECT_EQ(group->info().algorithm, "fixed");
  EXPECT_EQ(group->info().device, -1);
}

TEST(NodeLocalPool, OverTheRealNodesEachPoolIsBoundToItsNode) {
  if (!numa_available()) GTEST_SKIP() << "NUMA unavailable: " << numa_unavailable_reason();
  std::unique_ptr<NodeLocalPool> group;
  ASSERT_EQ(NodeLocalPool::create(fixed_pools(ThreadSafety::kLockFree), &group), Status::kOk) << error_detail();
  EXPECT_EQ(static_cast<int>(group->nodes().size()), numa_node_count());
  void* block = nullptr;
  ASSERT_EQ(group->allocate(256, 16, &block), Status::kOk) << error_detail();
  const int home = group->owner(block);
  EXPECT_NE(home, -1);
  std::memset(block, 1, 256);
  NumaPlacement placement;
  ASSERT_EQ(numa_placement(block, 256, &placement), Status::kOk) << error_detail();
  EXPECT_EQ(placement.pages_on_node.at(static_cast<std::size_t>(home)), 1u);
  EXPECT_EQ(group->deallocate(block), Status::kOk);
}

TEST(NodeLocalPool, TheJavaBackendTypeBuildsAGroupOrOnePool) {
  std::unique_ptr<Pool> pool;
  ASSERT_EQ(make_pool_over(BackendType::kMmap, 0, fixed_pools(ThreadSafety::kMutex), &pool), Status::kOk);
  EXPECT_EQ(dynamic_cast<NodeLocalPool*>(pool.get()), nullptr);
  EXPECT_EQ(pool->info().backend, "mmap");
  std::shared_ptr<Backend> backend;
  EXPECT_EQ(make_backend(BackendType::kNodeLocal, 0, &backend), Status::kInvalidArgument);
  const Status status = make_pool_over(BackendType::kNodeLocal, 0, fixed_pools(ThreadSafety::kMutex), &pool);
  if (!numa_available()) {
    EXPECT_EQ(status, Status::kFeatureUnavailable);
    return;
  }
  ASSERT_EQ(status, Status::kOk) << error_detail();
  ASSERT_NE(dynamic_cast<NodeLocalPool*>(pool.get()), nullptr);
  EXPECT_EQ(pool->info().backend.rfind("node-local[numa:bind:", 0), 0u) << pool->info().backend;
}

}  // namespace
}  // namespace nativepool
