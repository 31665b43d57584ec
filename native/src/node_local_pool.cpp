// SPDX-License-Identifier: Apache-2.0
#include "nativepool/node_local_pool.hpp"

#include <algorithm>
#include <climits>
#include <mutex>
#include <new>

#include "nativepool/numa.hpp"
#include "nativepool/numa_backend.hpp"

namespace nativepool {

int CpuNodeLocator::current_node() const noexcept {
  int node = 0;
  return numa_current_node(&node) == Status::kOk ? node : 0;
}

/// Which node's pool reserved the region an address falls in. Regions come
/// and go only when a pool grows or trims, so frees read it under a shared
/// lock and only growth takes it exclusively.
class NodeLocalPool::Directory {
 public:
  [[nodiscard]] bool add(void* region, std::size_t size, std::size_t slot) noexcept {
    const auto start = reinterpret_cast<std::uintptr_t>(region);
    try {
      const std::unique_lock lock(mutex_);
      regions_.emplace(start, Entry{start + size, slot});
      return true;
    } catch (const std::bad_alloc&) {
      return false;
    }
  }
  void remove(void* region) noexcept {
    const std::unique_lock lock(mutex_);
    regions_.erase(reinterpret_cast<std::uintptr_t>(region));
  }
  [[nodiscard]] bool find(const void* ptr, std::size_t* slot) const noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(ptr);
    const std::shared_lock lock(mutex_);
    auto after = regions_.upper_bound(address);
    if (after == regions_.begin()) return false;
    const Entry& entry = std::prev(after)->second;
    if (address >= entry.end) return false;
    *slot = entry.slot;
    return true;
  }

 private:
  struct Entry {
    std::uintptr_t end;
    std::size_t slot;
  };
  mutable std::shared_mutex mutex_;
  std::map<std::uintptr_t, Entry> regions_;  // by start address
};

/// A node's backend that enters each region it hands out in the directory.
class NodeLocalPool::RoutedBackend final : public BackendAdaptor {
 public:
  RoutedBackend(std::shared_ptr<Backend> inner, Directory* directory, std::size_t slot) noexcept
      : BackendAdaptor(std::move(inner)), directory_(directory), slot_(slot) {}

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    void* region = nullptr;
    if (const Status status = inner().allocate(size, alignment, &region); status != Status::kOk) return status;
    if (!directory_->add(region, size, slot_)) {
      inner().deallocate(region, size, alignment);
      return fail(Status::kInternal, "out of host memory for the node-local region directory");
    }
    *out = region;
    return Status::kOk;
  }
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override {
    directory_->remove(region);
    inner().deallocate(region, size, alignment);
  }

 private:
  Directory* directory_;  // owned by the NodeLocalPool, which outlives its pools
  std::size_t slot_;
};

NodeLocalPool::NodeLocalPool() noexcept = default;

NodeLocalPool::~NodeLocalPool() {
  pools_.clear();  // before the directory their backends write to
}

Status NodeLocalPool::create(const NodePoolMaker& make_pool, std::unique_ptr<NodeLocalPool>* out) noexcept {
  NumaTopology topology;
  if (const Status status = numa_topology(&topology); status != Status::kOk) return status;
  std::vector<int> nodes;
  std::map<int, int> home;
  try {
    for (const NumaNode& node : topology.nodes) {
      if (node.total_bytes > 0) nodes.push_back(node.id);
    }
    if (nodes.empty()) return fail(Status::kFeatureUnavailable, "no NUMA node has memory");
    // A CPU-only node's threads go to the nearest node with memory.
    for (std::size_t from = 0; from < topology.nodes.size(); ++from) {
      if (topology.nodes[from].total_bytes > 0) continue;
      std::size_t best = topology.nodes.size();
      for (std::size_t to = 0; to < topology.nodes.size(); ++to) {
        if (topology.nodes[to].total_bytes > 0 &&
            (best == topology.nodes.size() || topology.nodes[from].distances[to] < topology.nodes[from].distances[best])) {
          best = to;
        }
      }
      home.emplace(topology.nodes[from].id, topology.nodes[best].id);
    }
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a node-local pool");
  }
  const NodeBackendMaker bind = [](int node, std::shared_ptr<Backend>* backend) noexcept {
    std::shared_ptr<NumaBackend> numa;
    const Status status = NumaBackend::create({NumaPolicy::kBind, {node}}, &numa);
    *backend = std::move(numa);
    return status;
  };
  std::shared_ptr<const NodeLocator> locator;
  try {
    locator = std::make_shared<CpuNodeLocator>();
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a node-local pool");
  }
  return create(std::move(nodes), bind, make_pool, std::move(locator), out, home);
}

Status NodeLocalPool::create(std::vector<int> nodes, const NodeBackendMaker& make_backend,
                             const NodePoolMaker& make_pool, std::shared_ptr<const NodeLocator> locator,
                             std::unique_ptr<NodeLocalPool>* out, const std::map<int, int>& home) noexcept {
  std::sort(nodes.begin(), nodes.end());
  if (nodes.empty() || nodes.front() < 0 || std::adjacent_find(nodes.begin(), nodes.end()) != nodes.end()) {
    return fail(Status::kInvalidArgument, "a node-local pool needs distinct nodes, none negative");
  }
  if (!locator) return fail(Status::kInvalidArgument, "a node-local pool needs a node locator");
  std::unique_ptr<NodeLocalPool> group(new (std::nothrow) NodeLocalPool());
  if (group == nullptr) return fail(Status::kInternal, "out of host memory for a node-local pool");
  try {
    group->directory_ = std::make_unique<Directory>();
    int highest = nodes.back();
    for (const auto& [from, to] : home) highest = std::max(highest, from);
    group->home_.assign(static_cast<std::size_t>(highest) + 1, 0);
    std::string backends;
    for (std::size_t slot = 0; slot < nodes.size(); ++slot) {
      std::shared_ptr<Backend> backend;
      if (const Status status = make_backend(nodes[slot], &backend); status != Status::kOk) return status;
      // append(), not operator+: GCC 12 at -O3 warns (-Wrestrict) on the temporary.
      backends.append(slot == 0 ? "" : ",").append(backend->name());
      auto routed = std::make_shared<RoutedBackend>(std::move(backend), group->directory_.get(), slot);
      std::unique_ptr<Pool> pool;
      if (const Status status = make_pool(std::move(routed), &pool); status != Status::kOk) return status;
      group->pools_.push_back(std::move(pool));
      group->home_[static_cast<std::size_t>(nodes[slot])] = slot;
    }
    for (const auto& [from, to] : home) {
      const auto served = std::lower_bound(nodes.begin(), nodes.end(), to);
      if (from < 0 || served == nodes.end() || *served != to) {
        return fail(Status::kInvalidArgument, "node %d cannot be served by node %d, which has no pool", from, to);
      }
      group->home_[static_cast<std::size_t>(from)] = static_cast<std::size_t>(served - nodes.begin());
    }
    group->info_ = group->pools_.front()->info();
    group->info_.device = -1;
    group->info_.backend.assign("node-local[").append(backends).append("]");
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a node-local pool");
  }
  group->nodes_ = std::move(nodes);
  group->locator_ = std::move(locator);
  *out = std::move(group);
  return Status::kOk;
}

std::size_t NodeLocalPool::home_slot() const noexcept {
  const int node = locator_->current_node();
  return node >= 0 && static_cast<std::size_t>(node) < home_.size() ? home_[static_cast<std::size_t>(node)] : 0;
}

Status NodeLocalPool::slot_of(const void* ptr, std::size_t* slot) const noexcept {
  if (directory_->find(ptr, slot)) [[likely]] return Status::kOk;
  return fail(Status::kInvalidFree, "%p lies in no region of this node-local pool", ptr);
}

int NodeLocalPool::owner(const void* ptr) const noexcept {
  std::size_t slot = 0;
  return directory_->find(ptr, &slot) ? nodes_[slot] : -1;
}

Status NodeLocalPool::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  return pools_[home_slot()]->allocate(size, alignment, out);
}

Status NodeLocalPool::deallocate(void* ptr) noexcept {
  std::size_t slot = 0;
  if (const Status status = slot_of(ptr, &slot); status != Status::kOk) return status;
  return pools_[slot]->deallocate(ptr);
}

Status NodeLocalPool::allocate_batch(std::size_t size, std::size_t alignment, void** out, std::size_t count) noexcept {
  return pools_[home_slot()]->allocate_batch(size, alignment, out, count);
}

Status NodeLocalPool::deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept {
  // Runs of blocks of one node go to its pool in one call.
  *freed = 0;
  while (*freed < count) {
    std::size_t slot = 0;
    if (const Status status = slot_of(ptrs[*freed], &slot); status != Status::kOk) return status;
    std::size_t end = *freed + 1;
    for (std::size_t next = 0; end < count && directory_->find(ptrs[end], &next) && next == slot;) ++end;
    std::size_t run = 0;
    const Status status = pools_[slot]->deallocate_batch(ptrs + *freed, end - *freed, &run);
    *freed += run;
    if (status != Status::kOk) return status;
  }
  return Status::kOk;
}

PoolStats NodeLocalPool::stats() const noexcept {
  PoolStats total;
  for (const auto& pool : pools_) accumulate(total, pool->stats());
  // Fixed pools report no external fragmentation: any free block fits.
  if (total.fragmentation.free_bytes > 0 && info_.block_size == 0) {
    total.fragmentation.external_fragmentation =
        1.0 - static_cast<double>(total.fragmentation.largest_free_block) /
                  static_cast<double>(total.fragmentation.free_bytes);
  }
  return total;
}

Status NodeLocalPool::node_stats(int node, PoolStats* out) const noexcept {
  const auto at = std::lower_bound(nodes_.begin(), nodes_.end(), node);
  if (at == nodes_.end() || *at != node) {
    return fail(Status::kInvalidArgument, "node %d has no pool in this node-local pool", node);
  }
  *out = pools_[static_cast<std::size_t>(at - nodes_.begin())]->stats();
  return Status::kOk;
}

Status NodeLocalPool::validate() const noexcept {
  for (const auto& pool : pools_) {
    if (const Status status = pool->validate(); status != Status::kOk) return status;
  }
  return Status::kOk;
}

Status NodeLocalPool::verify() const noexcept {
  for (const auto& pool : pools_) {
    if (const Status status = pool->verify(); status != Status::kOk) return status;
  }
  return Status::kOk;
}

bool NodeLocalPool::leak_report(std::string* out) const noexcept {
  bool tracked = false;
  for (const auto& pool : pools_) tracked |= pool->leak_report(out);
  return tracked;
}

Status NodeLocalPool::snapshot(MemorySnapshot* out) const noexcept try {
  *out = MemorySnapshot{};
  for (const auto& pool : pools_) {
    MemorySnapshot node;
    if (const Status status = pool->snapshot(&node); status != Status::kOk) {
      *out = MemorySnapshot{};
      return status;
    }
    out->append(std::move(node));
  }
  out->sort_regions();
  return Status::kOk;
} catch (const std::bad_alloc&) {
  *out = MemorySnapshot{};
  return fail(Status::kInternal, "node-local pool: out of host memory for the snapshot");
}

std::size_t NodeLocalPool::trim() noexcept {
  std::size_t released = 0;
  for (const auto& pool : pools_) released += pool->trim();
  return released;
}

}  // namespace nativepool
