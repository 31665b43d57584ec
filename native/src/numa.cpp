// SPDX-License-Identifier: Apache-2.0
#include "nativepool/numa.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>

#include "libnuma.hpp"

namespace nativepool {
namespace {

Status unavailable() noexcept {
  return fail(Status::kFeatureUnavailable, "NUMA unavailable: %s", libnuma::reason());
}

// libnuma answers -1 for a node without a sysfs entry, i.e. one that does not
// exist; only existing nodes reach the other calls, which keeps libnuma quiet.
bool node_exists(const libnuma::Library& lib, int node, long long* total, long long* free_bytes) noexcept {
  if (node < 0 || node > lib.max_node()) return false;
  *total = lib.node_size64(node, free_bytes);
  return *total >= 0;
}

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

constexpr unsigned long kBitsPerWord = CHAR_BIT * sizeof(unsigned long);

bool bit_set(const unsigned long* words, unsigned long bit) noexcept {
  return (words[bit / kBitsPerWord] >> (bit % kBitsPerWord)) & 1UL;
}

int mpol_mode(NumaPolicy policy) noexcept {
  switch (policy) {
    case NumaPolicy::kBind: return libnuma::kMpolBind;
    case NumaPolicy::kPreferred: return libnuma::kMpolPreferred;
    case NumaPolicy::kInterleave: return libnuma::kMpolInterleave;
    case NumaPolicy::kLocal: return libnuma::kMpolLocal;
  }
  return -1;
}

}  // namespace

const char* numa_policy_name(NumaPolicy policy) noexcept {
  switch (policy) {
    case NumaPolicy::kBind: return "BIND";
    case NumaPolicy::kPreferred: return "PREFERRED";
    case NumaPolicy::kInterleave: return "INTERLEAVE";
    case NumaPolicy::kLocal: return "LOCAL";
  }
  return "UNKNOWN";
}

bool numa_available() noexcept { return libnuma::library() != nullptr; }

const char* numa_unavailable_reason() noexcept { return libnuma::reason(); }

int numa_node_count() noexcept {
  const libnuma::Library* lib = libnuma::library();
  if (lib == nullptr) return 0;
  int count = 0;
  long long total = 0;
  long long free_bytes = 0;
  for (int node = 0; node <= lib->max_node(); ++node) count += node_exists(*lib, node, &total, &free_bytes);
  return count;
}

Status numa_topology(NumaTopology* out) noexcept {
  const libnuma::Library* lib = libnuma::library();
  if (lib == nullptr) return unavailable();
  libnuma::Bitmask* cpus = lib->allocate_cpumask();
  if (cpus == nullptr) return fail(Status::kInternal, "out of host memory for a NUMA CPU mask");
  NumaTopology topology;
  Status status = Status::kOk;
  try {
    for (int id = 0; id <= lib->max_node(); ++id) {
      NumaNode node;
      node.id = id;
      if (!node_exists(*lib, id, &node.total_bytes, &node.free_bytes)) continue;
      if (lib->node_to_cpus(id, cpus) == 0) {
        for (unsigned long cpu = 0; cpu < cpus->size; ++cpu) {
          if (bit_set(cpus->maskp, cpu)) node.cpus.push_back(static_cast<int>(cpu));
        }
      }
      topology.nodes.push_back(std::move(node));
    }
    for (NumaNode& from : topology.nodes) {
      for (const NumaNode& to : topology.nodes) from.distances.push_back(lib->distance(from.id, to.id));
    }
  } catch (const std::bad_alloc&) {
    status = fail(Status::kInternal, "out of host memory for the NUMA topology");
  }
  lib->bitmask_free(cpus);
  if (status != Status::kOk) return status;
  if (status = numa_current_node(&topology.current_node); status != Status::kOk) return status;
  *out = std::move(topology);
  return Status::kOk;
}

Status numa_current_node(int* node) noexcept {
  unsigned cpu = 0;
  unsigned current = 0;
  // The raw call: glibc's getcpu() wrapper is younger (2.29) than the kernel's.
  if (::syscall(SYS_getcpu, &cpu, &current, nullptr) != 0) {
    return fail(Status::kInternal, "getcpu failed: %s", std::strerror(errno));
  }
  *node = static_cast<int>(current);
  return Status::kOk;
}

Status numa_check_spec(NumaSpec* spec) noexcept {
  const libnuma::Library* lib = libnuma::library();
  if (lib == nullptr) return unavailable();
  const char* policy = numa_policy_name(spec->policy);
  if (mpol_mode(spec->policy) < 0) {
    return fail(Status::kInvalidArgument, "unknown NUMA policy %d", static_cast<int>(spec->policy));
  }
  std::sort(spec->nodes.begin(), spec->nodes.end());
  spec->nodes.erase(std::unique(spec->nodes.begin(), spec->nodes.end()), spec->nodes.end());
  if (spec->policy == NumaPolicy::kLocal) {
    if (!spec->nodes.empty()) return fail(Status::kInvalidArgument, "NUMA policy LOCAL takes no nodes");
    return Status::kOk;
  }
  if (spec->nodes.empty()) return fail(Status::kInvalidArgument, "NUMA policy %s needs at least one node", policy);
  if (spec->policy == NumaPolicy::kPreferred && spec->nodes.size() > 1) {
    return fail(Status::kInvalidArgument, "NUMA policy PREFERRED takes one node, got %zu", spec->nodes.size());
  }
  for (const int node : spec->nodes) {
    long long total = 0;
    long long free_bytes = 0;
    if (!node_exists(*lib, node, &total, &free_bytes)) {
      return fail(Status::kInvalidArgument, "NUMA node %d does not exist (this machine has %d node(s), 0 to %d)",
                  node, numa_node_count(), lib->max_node());
    }
    if (total == 0) return fail(Status::kInvalidArgument, "NUMA node %d has no memory", node);
  }
  return Status::kOk;
}

Status numa_apply(const NumaSpec& spec, void* region, std::size_t bytes) noexcept {
  const libnuma::Library* lib = libnuma::library();
  if (lib == nullptr) return unavailable();
  // One bit per node up to the highest one named; checked specs have nodes
  // no higher than numa_max_node(), which is below the kernel's limit.
  const unsigned long highest = spec.nodes.empty() ? 0UL : static_cast<unsigned long>(spec.nodes.back());
  unsigned long stack_mask[4] = {};
  const std::size_t words = highest / kBitsPerWord + 1;
  unsigned long* mask = words <= std::size(stack_mask) ? stack_mask : new (std::nothrow) unsigned long[words]();
  if (mask == nullptr) return fail(Status::kInternal, "out of host memory for a NUMA node mask");
  for (const int node : spec.nodes) mask[node / kBitsPerWord] |= 1UL << (node % kBitsPerWord);
  // maxnode counts one past the highest bit: the kernel reads maxnode - 1 bits.
  const long result = lib->mbind(region, bytes, mpol_mode(spec.policy), spec.nodes.empty() ? nullptr : mask,
                                 spec.nodes.empty() ? 0UL : words * kBitsPerWord + 1, 0U);
  const int error = errno;
  if (mask != stack_mask) delete[] mask;
  if (result != 0) {
    return fail(Status::kOutOfPoolMemory, "mbind(%s) of %zu bytes failed: %s", numa_policy_name(spec.policy), bytes,
                std::strerror(error));
  }
  return Status::kOk;
}

Status numa_placement(const void* address, std::size_t bytes, NumaPlacement* out) noexcept {
  const libnuma::Library* lib = libnuma::library();
  if (lib == nullptr) return unavailable();
  const std::size_t page = page_size();
  const auto first = reinterpret_cast<std::uintptr_t>(address) / page * page;
  const auto end = reinterpret_cast<std::uintptr_t>(address) + bytes;
  if (bytes == 0 || end < first) return fail(Status::kInvalidArgument, "bad range of %zu bytes", bytes);
  NumaPlacement placement;
  placement.page_size = page;
  try {
    placement.pages_on_node.assign(static_cast<std::size_t>(lib->max_node()) + 1, 0);
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of host memory for a NUMA placement");
  }
  // In batches, so a range of any size needs a fixed amount of stack.
  constexpr std::size_t kBatch = 256;
  void* pages[kBatch];
  int nodes[kBatch];
  for (std::uintptr_t at = first; at < end;) {
    std::size_t count = 0;
    for (; count < kBatch && at < end; ++count, at += page) pages[count] = reinterpret_cast<void*>(at);
    if (lib->move_pages(0, count, pages, nullptr, nodes, 0) != 0) {
      return fail(Status::kInvalidArgument, "move_pages query of %zu bytes at %p failed: %s", bytes, address,
                  std::strerror(errno));
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (nodes[i] >= 0 && static_cast<std::size_t>(nodes[i]) < placement.pages_on_node.size()) {
        ++placement.pages_on_node[static_cast<std::size_t>(nodes[i])];
      } else if (nodes[i] == -ENOENT) {
        ++placement.not_present;
      } else {
        return fail(Status::kInvalidArgument, "page %p of the range at %p is not mapped: %s", pages[i], address,
                    std::strerror(-nodes[i]));
      }
    }
  }
  *out = std::move(placement);
  return Status::kOk;
}

void numa_merge(NumaPlacement* into, const NumaPlacement& other) {
  if (into->pages_on_node.size() < other.pages_on_node.size()) into->pages_on_node.resize(other.pages_on_node.size());
  for (std::size_t node = 0; node < other.pages_on_node.size(); ++node) {
    into->pages_on_node[node] += other.pages_on_node[node];
  }
  into->not_present += other.not_present;
  into->page_size = other.page_size;
}

}  // namespace nativepool
