// SPDX-License-Identifier: Apache-2.0
/// @file numa.hpp
/// @brief NUMA at run time: whether it works here, the machine's topology,
/// memory policies for regions, and where a range's pages actually lie.
///
/// libnuma is not linked: it is opened with dlopen("libnuma.so.1") on first
/// use, the way HotSpot does it, so one library loads on every Linux machine
/// and says why NUMA is absent where it is (no libnuma, a kernel without NUMA,
/// a container that refuses the NUMA system calls). The kernel is probed with
/// the raw get_mempolicy system call before libnuma is opened, so a refused
/// call never reaches libnuma (which would print warnings on stderr).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nativepool/status.hpp"

namespace nativepool {

/// How a region's pages are placed. Values are mirrored by
/// org.nativepool.NumaPolicy: append only.
enum class NumaPolicy : int {
  kBind = 0,        ///< only on the given nodes; allocation fails when they are full
  kPreferred = 1,   ///< on the given node while it has free memory, else elsewhere
  kInterleave = 2,  ///< page by page round-robin over the given nodes
  kLocal = 3,       ///< on the node of the CPU that first touches the page
};

/// Stable name of a policy, e.g. "BIND".
[[nodiscard]] const char* numa_policy_name(NumaPolicy policy) noexcept;

/// A policy and the nodes it names (none for kLocal).
struct NumaSpec {
  NumaPolicy policy = NumaPolicy::kLocal;
  std::vector<int> nodes;
  bool operator==(const NumaSpec&) const = default;
};

/// One node of the machine.
struct NumaNode {
  int id = 0;
  std::vector<int> cpus;       ///< CPU ids of the node, ascending (empty for memory-only nodes)
  std::vector<int> distances;  ///< relative distance to each node of NumaTopology::nodes, in that order
  long long total_bytes = 0;   ///< memory of the node (0 for CPU-only nodes)
  long long free_bytes = 0;
};

/// The machine's nodes, and the node the calling thread runs on.
struct NumaTopology {
  std::vector<NumaNode> nodes;  ///< ascending ids; ids may have gaps
  int current_node = -1;
};

/// How many pages of a range lie on each node.
struct NumaPlacement {
  std::vector<std::size_t> pages_on_node;  ///< indexed by node id, up to the highest node
  std::size_t not_present = 0;             ///< pages never touched (no physical page yet)
  std::size_t page_size = 0;
};

/// True when libnuma loaded and the kernel accepts the NUMA system calls.
[[nodiscard]] bool numa_available() noexcept;

/// Why NUMA is unavailable, e.g. "libnuma.so.1 not found: ..."; "" when available.
[[nodiscard]] const char* numa_unavailable_reason() noexcept;

/// Nodes configured on this machine; 0 when NUMA is unavailable.
[[nodiscard]] int numa_node_count() noexcept;

/// Reads the topology. kFeatureUnavailable ("NUMA unavailable: <reason>")
/// when NUMA is unavailable.
[[nodiscard]] Status numa_topology(NumaTopology* out) noexcept;

/// The node of the CPU the calling thread runs on now (getcpu).
[[nodiscard]] Status numa_current_node(int* node) noexcept;

/// Checks @p spec against this machine and normalises it (nodes ascending,
/// duplicates dropped): kFeatureUnavailable without NUMA, kInvalidArgument
/// for a node that does not exist or has no memory, an empty node set (or
/// nodes given to kLocal, or several to kPreferred).
[[nodiscard]] Status numa_check_spec(NumaSpec* spec) noexcept;

/// Applies a checked @p spec to [@p region, @p region + @p bytes) with mbind;
/// pages touched afterwards follow it. @p region must be page-aligned.
[[nodiscard]] Status numa_apply(const NumaSpec& spec, void* region, std::size_t bytes) noexcept;

/// Counts, without moving anything, the pages of [@p address, @p address +
/// @p bytes) on each node (move_pages with no target nodes). The range is
/// widened to whole pages.
[[nodiscard]] Status numa_placement(const void* address, std::size_t bytes, NumaPlacement* out) noexcept;

/// Adds the counts of @p other to @p into (for placements of several ranges).
void numa_merge(NumaPlacement* into, const NumaPlacement& other);

}  // namespace nativepool
