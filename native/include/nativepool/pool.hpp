// SPDX-License-Identifier: Apache-2.0
/// @file pool.hpp
/// @brief What every pool reports, the contract pool algorithms fulfil, and
/// the type-erased Pool interface the JNI layer talks to.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

#include "nativepool/backend.hpp"
#include "nativepool/safety/safety_level.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// How the free space of a pool is split up.
struct Fragmentation {
  std::uint64_t free_bytes = 0;          ///< free bytes inside reserved regions
  std::uint64_t largest_free_block = 0;  ///< largest single request that fits without growing
  std::uint64_t free_blocks = 0;         ///< number of free blocks (holes)
  /// 1 - largest_free_block / free_bytes; 0 when nothing is free, and always
  /// 0 for fixed-size pools, where any free block serves any request.
  double external_fragmentation = 0.0;
};

/// Bytes a pool holds from its backend.
struct Reservation {
  std::uint64_t bytes = 0;
  std::uint64_t peak_bytes = 0;
  std::uint64_t regions = 0;  ///< chunks or arenas currently held
};

/// A consistent-enough snapshot of a pool's counters. Each field is exact when
/// no other thread is inside the pool; under concurrency every field is a
/// value the counter really had.
struct PoolStats {
  std::uint64_t allocations = 0;  ///< successful allocations
  std::uint64_t frees = 0;        ///< successful frees
  std::uint64_t failures = 0;     ///< allocations that returned an error
  std::uint64_t bytes_in_use = 0;
  std::uint64_t peak_bytes_in_use = 0;
  std::uint64_t live_blocks = 0;
  /// Blocks parked in BlockCaches: out of the pool, in no user's hands, so
  /// not in live_blocks or bytes_in_use (allocations - frees counts them).
  std::uint64_t cached_blocks = 0;
  std::uint64_t cached_bytes = 0;
  Reservation reserved;
  Fragmentation fragmentation;
};

/// Adds the counters and figures of @p part to @p sum, for several pools
/// reported as one: counts and current figures add up exactly, the largest
/// free block is the larger one, and peaks add up too (an upper bound of the
/// combined peak when the parts peaked at different moments).
/// external_fragmentation is left alone: the caller knows whether it applies.
inline void accumulate(PoolStats& sum, const PoolStats& part) noexcept {
  sum.allocations += part.allocations;
  sum.frees += part.frees;
  sum.failures += part.failures;
  sum.bytes_in_use += part.bytes_in_use;
  sum.peak_bytes_in_use += part.peak_bytes_in_use;
  sum.live_blocks += part.live_blocks;
  sum.cached_blocks += part.cached_blocks;
  sum.cached_bytes += part.cached_bytes;
  sum.reserved.bytes += part.reserved.bytes;
  sum.reserved.peak_bytes += part.reserved.peak_bytes;
  sum.reserved.regions += part.reserved.regions;
  sum.fragmentation.free_bytes += part.fragmentation.free_bytes;
  sum.fragmentation.free_blocks += part.fragmentation.free_blocks;
  if (part.fragmentation.largest_free_block > sum.fragmentation.largest_free_block) {
    sum.fragmentation.largest_free_block = part.fragmentation.largest_free_block;
  }
}

/// The contract of a pool algorithm (FixedPool, VariablePool, ...). An
/// algorithm manages blocks only; counting lives in adaptors that wrap it.
template <class A>
concept PoolAlgorithm = requires(A pool, const A cpool, std::size_t n, void* ptr, void** out,
                                 std::size_t* freed) {
  /// Hands out a block of at least @p size bytes aligned to @p alignment.
  { pool.allocate(n, n, out) } noexcept -> std::same_as<Status>;
  /// Returns a block; stores the block's size (as counted in bytes in use).
  { pool.deallocate(ptr, freed) } noexcept -> std::same_as<Status>;
  /// Bytes a successful allocate(size, ...) adds to bytes in use: exactly
  /// what deallocate() later reports for that block.
  { cpool.counted_size(n) } noexcept -> std::same_as<std::size_t>;
  /// Gives fully free regions back to the backend; returns bytes released.
  { pool.trim() } noexcept -> std::same_as<std::size_t>;
  /// Checks every internal invariant; kCorrupted with a detail if broken.
  { cpool.validate() } noexcept -> std::same_as<Status>;
  { cpool.fragmentation() } noexcept -> std::same_as<Fragmentation>;
  { cpool.reservation() } noexcept -> std::same_as<Reservation>;
  /// Whether several threads may call the algorithm at once.
  { A::kConcurrent } -> std::convertible_to<bool>;
};

/// Static description of a pool, for logs and toString().
struct PoolInfo {
  std::string algorithm;  ///< "fixed" or "variable"
  ThreadSafety thread_safety = ThreadSafety::kNone;
  MemoryKind kind = MemoryKind::kHost;
  int device = -1;
  std::string backend;
  std::size_t block_size = 0;  ///< fixed pools: the block size; else 0
  std::size_t alignment = 0;   ///< default (fixed: the only) alignment
  SafetyLevel safety = SafetyLevel::kOff;
};

class BlockParking;

/// Type-erased pool, as seen by the JNI layer and other runtime callers.
/// Every method is noexcept and reports failure through Status.
class Pool {
 public:
  virtual ~Pool() = default;
  Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  [[nodiscard]] virtual Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept = 0;
  [[nodiscard]] virtual Status deallocate(void* ptr) noexcept = 0;

  /// All or nothing: either @p count blocks are stored in @p out, or none is
  /// kept (no slot holds a block: each is left as it was or reset to null)
  /// and the failure of the refused block is returned. A refused batch moves
  /// no counter but failures. Fixed pools move the whole batch at once.
  [[nodiscard]] virtual Status allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                              std::size_t count) noexcept = 0;
  /// Frees in order and stops at the first invalid pointer; @p freed receives
  /// how many were freed before it, so the caller can report exactly which.
  [[nodiscard]] virtual Status deallocate_batch(void* const* ptrs, std::size_t count,
                                                std::size_t* freed) noexcept = 0;

  [[nodiscard]] virtual PoolStats stats() const noexcept = 0;
  [[nodiscard]] virtual Status validate() const noexcept = 0;
  /// validate(), then the guards of every live block when the pool has
  /// canaries: kMemoryCorrupted (see last_corruption()) for the first
  /// damaged block.
  [[nodiscard]] virtual Status verify() const noexcept = 0;
  /// Appends the live blocks (address, size, age, site) to @p out; false
  /// when the pool does not track them (safety levels below kFull).
  virtual bool leak_report(std::string* out) const noexcept = 0;
  virtual std::size_t trim() noexcept = 0;
  /// Fills @p out with every region in address order and its blocks
  /// (snapshot.hpp), refined by the safety layers; kInternal when out of
  /// host memory.
  [[nodiscard]] virtual Status snapshot(MemorySnapshot* out) const noexcept = 0;
  [[nodiscard]] virtual const PoolInfo& info() const noexcept = 0;
  /// The state per block that explicit BlockCaches park freed blocks in, so
  /// that they check each free at once (block_parking.hpp); null where the
  /// pool has none or a safety layer must see every free.
  [[nodiscard]] virtual BlockParking* parking() noexcept { return nullptr; }
};

}  // namespace nativepool
