// SPDX-License-Identifier: Apache-2.0
/// @file sharded_variable_pool.hpp
/// @brief ShardedVariablePool: one shared variable pool made of several
/// independent VariablePools, the shards, each thread allocating from one.
///
/// A shard is what jemalloc calls an arena and mimalloc a heap (here "arena"
/// already names a backend region): its own lock, TLSF and size-class slabs
/// over its own regions. Each thread that starts using the pool gets the
/// shard with the fewest threads (ThreadCachedVariablePool picks it with
/// the thread's cache and gives it up when the thread ends), so two
/// threads on two cores neither take one lock nor write one slab's claim
/// words: with a single pool, the quiet re-run showed a 2-thread pair 4x the
/// 1-thread one, the lock and the claim words bouncing between the cores.
///
/// A block goes back to the shard that owns it, whichever thread frees it.
/// Every region a shard maps is published, 64 KiB by 64 KiB, in a directory
/// shared by the shards (SlabDirectory, readable without a lock), so the
/// owner of any address is three loads away; a shard's regions are mapped
/// 64 KiB-aligned so that no two shards share a directory entry. An address
/// no shard owns is judged by shard 0, which refuses it with its precise
/// status.
///
/// Figures: reservation() is exact (the directory's backend adaptor counts
/// every region and the peak of their sum); fragmentation() adds the shards
/// up, its largest free block is the largest of any one shard. A bounded
/// pool (max_bytes) is not sharded: one bound cannot be split exactly.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "nativepool/backend.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/slab_directory.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/statistics.hpp"
#include "nativepool/status.hpp"
#include "nativepool/variable_pool.hpp"

namespace nativepool {

/// Shared variable pools, one per group of threads, freeing each block at
/// the pool that owns it (see the file comment).
class ShardedVariablePool {
 public:
  using Shard = VariablePool<ThreadSafety::kMutex>;
  static constexpr std::size_t kMaxShards = 64;

  /// Builds @p shards shards of @p config (0: one per hardware thread, at
  /// most kMaxShards); shard 0 reserves config.initial_bytes, the others
  /// grow on their first use. kInvalidArgument for a non-zero max_bytes,
  /// more than kMaxShards, or what VariablePool::create refuses.
  [[nodiscard]] static Status create(const VariablePoolConfig& config, std::size_t shards,
                                     std::shared_ptr<Backend> backend,
                                     std::unique_ptr<ShardedVariablePool>* out) noexcept;
  ~ShardedVariablePool();
  ShardedVariablePool(const ShardedVariablePool&) = delete;
  ShardedVariablePool& operator=(const ShardedVariablePool&) = delete;

  [[nodiscard]] std::size_t shards() const noexcept { return count_; }
  [[nodiscard]] Shard& shard(std::size_t i) noexcept { return *shards_[i]; }
  /// A home for a thread that starts using the pool: the shard with the
  /// fewest threads now (as jemalloc picks arenas), so that threads which
  /// come and go do not pile up on one shard as a round-robin would.
  [[nodiscard]] Shard& acquire_home() noexcept;
  /// The thread of a home from acquire_home() has ended.
  void release_home(const Shard& home) noexcept;
  /// Threads whose home is shard @p i now.
  [[nodiscard]] std::uint32_t threads_at(std::size_t i) const noexcept {
    return threads_[i].load(std::memory_order_relaxed);
  }
  /// The shard whose regions hold @p ptr, or nullptr. Any thread, no lock.
  [[nodiscard]] Shard* owner(const void* ptr) const noexcept { return owner_at(reinterpret_cast<std::uintptr_t>(ptr)); }

  /// @name The VariablePool interface, from a thread's home shard or the owner
  /// A caller keeps its home as a Shard pointer, so that the fast paths
  /// reach the shard's slabs with no lookup, and asks it for the classes,
  /// which every shard shares. A parked block's handle names its slab
  /// record, so any shard unparks it: the caller's home, whose lines it has.
  /// @{
  /// Frees at the owner; an address no shard owns is shard 0's to refuse.
  [[nodiscard]] Status deallocate(void* ptr, std::size_t* freed_size) noexcept {
    return judge(ptr).deallocate(ptr, freed_size);
  }
  /// The shard that frees @p ptr: its owner, or shard 0, which refuses what
  /// no shard owns with its precise status.
  [[nodiscard]] Shard& judge(const void* ptr) noexcept {
    Shard* by = owner(ptr);
    return by != nullptr ? *by : *first_;
  }
  [[nodiscard]] std::size_t granularity() const noexcept { return first_->granularity(); }
  [[nodiscard]] std::size_t cache_classes() const noexcept { return first_->cache_classes(); }
  /// Parks @p ptr at its owner, trying @p home first (a thread mostly frees
  /// what it allocated). False, with the shard that must judge the free in
  /// @p judged, for anything that is not an allocated slab block.
  [[nodiscard]] bool park(Shard& home, const void* ptr, std::uint64_t* handle, std::size_t* cls,
                          Shard** judged) noexcept {
    if (home.park(ptr, handle, cls)) [[likely]] return true;
    return park_elsewhere(home, ptr, handle, cls, judged);
  }
  /// Frees parked blocks at their owners, one lock hold per run of one owner.
  void release_parked(const std::uint64_t* handles, std::size_t count) noexcept;
  /// @}

  /// Sums over the shards (trim: bytes released).
  std::size_t trim() noexcept;
  [[nodiscard]] Fragmentation fragmentation() const noexcept;
  [[nodiscard]] Reservation reservation() const noexcept;
  /// Every shard's validate(), and that every region is published for the
  /// shard that holds it.
  [[nodiscard]] Status validate() const noexcept;
  /// validate(), and that exactly @p parked blocks are parked in all. Quiescent.
  [[nodiscard]] Status validate_parked(std::size_t parked) const noexcept;
  /// Every shard's regions, in address order.
  [[nodiscard]] Status snapshot(MemorySnapshot* out) const noexcept;
  [[nodiscard]] std::size_t block_size(const void* ptr) const noexcept {
    const Shard* by = owner(ptr);
    return by != nullptr ? by->block_size(ptr) : 0;
  }

 private:
  class OwnerBackend;
  static constexpr std::uintptr_t kOwnerGranule = std::uintptr_t{1}
                                                  << detail::SlabDirectory<OwnerBackend>::kSlabShift;
  struct Totals {
    Counter<true> bytes;
    Counter<true> peak;
    Counter<true> regions;
  };

  ShardedVariablePool() noexcept = default;
  [[nodiscard]] Shard* owner_at(std::uintptr_t address) const noexcept;
  [[nodiscard]] bool park_elsewhere(Shard& home, const void* ptr, std::uint64_t* handle, std::size_t* cls,
                                    Shard** judged) noexcept;

  // Declared first, destroyed last: the shards unmap through it. An entry
  // names the backend its region came through, which names its shard (the
  // initial reservation maps before the shard exists).
  detail::SlabDirectory<OwnerBackend> owners_;
  Totals totals_;
  std::unique_ptr<std::unique_ptr<Shard>[]> shards_;
  Shard* first_ = nullptr;  // shards_[0]
  std::size_t count_ = 0;
  std::unique_ptr<std::atomic<std::uint32_t>[]> threads_;  // threads at home in each shard
};

}  // namespace nativepool
