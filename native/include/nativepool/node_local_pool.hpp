// SPDX-License-Identifier: Apache-2.0
/// @file node_local_pool.hpp
/// @brief A pool group with one pool per NUMA node: each allocation comes from
/// the calling thread's node, each free goes back to the node that owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "nativepool/backend.hpp"
#include "nativepool/pool.hpp"

namespace nativepool {

/// Says which node the calling thread runs on.
class NodeLocator {
 public:
  virtual ~NodeLocator() = default;
  [[nodiscard]] virtual int current_node() const noexcept = 0;
};

/// The real answer: the node of the CPU the thread runs on now (getcpu).
/// The scheduler may move the thread a moment later; the block still goes
/// back to the right node on free, it is merely remote until then.
class CpuNodeLocator final : public NodeLocator {
 public:
  [[nodiscard]] int current_node() const noexcept override;
};

/// Builds one node's pool over the backend it is given (e.g. make_fixed_pool
/// with a config bound).
using NodePoolMaker = std::function<Status(std::shared_ptr<Backend>, std::unique_ptr<Pool>*)>;
/// Builds the backend of one node.
using NodeBackendMaker = std::function<Status(int node, std::shared_ptr<Backend>*)>;

/// One pool per node behind the Pool interface. allocate() serves the calling
/// thread from its node's pool (strictly: a full node fails rather than
/// spilling onto another, which is what local means); deallocate() finds the
/// owning node from the address, so a thread may free what a thread on any
/// other node allocated. Each node's pool keeps its own lock (or lock-free
/// stack) and its own statistics; stats() adds them up. The owner lookup
/// takes a shared (reader) lock on the group's region directory, which only
/// a pool's growth or trim takes exclusively: frees of different threads do
/// not serialise, but a LOCK_FREE node pool is no longer lock-free on free.
/// A BlockCache over the group refills from the caller's node and flushes
/// each block to its owner, so per-thread caches keep to their node.
class NodeLocalPool final : public Pool {
 public:
  /// One pool per node of this machine that has memory, each over a
  /// NumaBackend bound (BIND) to its node; threads on a CPU-only node are
  /// served by the nearest node with memory. kFeatureUnavailable without NUMA.
  [[nodiscard]] static Status create(const NodePoolMaker& make_pool, std::unique_ptr<NodeLocalPool>* out) noexcept;

  /// The general form: a pool for each of @p nodes over the backend
  /// @p make_backend returns for it, threads placed by @p locator. A thread
  /// whose node is not in @p nodes (and not in @p home) is served by the
  /// first node's. @p home maps further node ids to the node that serves them.
  [[nodiscard]] static Status create(std::vector<int> nodes, const NodeBackendMaker& make_backend,
                                     const NodePoolMaker& make_pool, std::shared_ptr<const NodeLocator> locator,
                                     std::unique_ptr<NodeLocalPool>* out,
                                     const std::map<int, int>& home = {}) noexcept;

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  [[nodiscard]] Status deallocate(void* ptr) noexcept override;
  [[nodiscard]] Status allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                      std::size_t count) noexcept override;
  [[nodiscard]] Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept override;
  /// The sum over the nodes. Counters and current figures are exact sums;
  /// peaks are the sum of the nodes' peaks, which may exceed the group's
  /// true peak when the nodes peaked at different moments.
  [[nodiscard]] PoolStats stats() const noexcept override;
  [[nodiscard]] Status validate() const noexcept override;
  [[nodiscard]] Status verify() const noexcept override;
  bool leak_report(std::string* out) const noexcept override;
  std::size_t trim() noexcept override;
  /// The regions of every node's pool, in address order.
  [[nodiscard]] Status snapshot(MemorySnapshot* out) const noexcept override;
  /// The first node's, with backend "node-local[<each node's backend>]".
  [[nodiscard]] const PoolInfo& info() const noexcept override { return info_; }

  /// The nodes that have a pool, ascending.
  [[nodiscard]] const std::vector<int>& nodes() const noexcept { return nodes_; }
  /// One node's statistics; kInvalidArgument for a node without a pool.
  [[nodiscard]] Status node_stats(int node, PoolStats* out) const noexcept;
  /// The node whose pool owns @p ptr, or -1.
  [[nodiscard]] int owner(const void* ptr) const noexcept;
  /// The node whose pool serves the calling thread now.
  [[nodiscard]] int home_node() const noexcept { return nodes_[home_slot()]; }

  ~NodeLocalPool() override;

 private:
  class Directory;
  class RoutedBackend;

  NodeLocalPool() noexcept;
  [[nodiscard]] std::size_t home_slot() const noexcept;
  [[nodiscard]] Status slot_of(const void* ptr, std::size_t* slot) const noexcept;

  std::unique_ptr<Directory> directory_;  // outlives pools_ (declared first, destroyed last)
  std::vector<int> nodes_;
  std::vector<std::unique_ptr<Pool>> pools_;
  std::vector<std::size_t> home_;  // node id -> slot; ids beyond it go to slot 0
  std::shared_ptr<const NodeLocator> locator_;
  PoolInfo info_;
};

}  // namespace nativepool
