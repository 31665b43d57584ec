// SPDX-License-Identifier: Apache-2.0
/// @file variable_thread_cache.hpp
/// @brief ThreadCachedVariablePool: a shared variable pool (sharded, see
/// sharded_variable_pool.hpp) with a cache per thread for each size class of
/// its slabs, behind the type-erased Pool.
///
/// ThreadCachedPool's design (thread_cache.hpp) for the small sizes of a
/// variable pool: each thread that uses the pool gets one magazine of parked
/// blocks per size class it uses, allocate and free are an array pop or
/// push on memory only that thread writes, and a magazine takes from or
/// gives back to the pool half its capacity under one lock hold when empty
/// or full. The registry, the thread-local lookup, the per-thread counters
/// and the hand-back at thread exit are CacheHost's, shared with the fixed
/// pools' caches. Each thread's cache belongs to one shard, its home, the
/// one with the fewest threads when the thread starts: refills, sizes above
/// the classes and batches take that shard's lock, and a block goes back to
/// the shard that owns it.
///
/// Every free is still checked at once: parking claims the block's byte in
/// its slab's claims with one compare-and-swap (slab_classes.hpp), and
/// unparking clears it with a plain store. So a double free, a free of a
/// block parked in any thread's cache, an interior or a foreign pointer is
/// refused, by the park or by the pool's locked free that a refused park
/// falls back to. Sizes above the classes, stricter
/// alignments and batches go to the pool under its lock, as without caches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "nativepool/pool.hpp"
#include "nativepool/sharded_variable_pool.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_cache.hpp"
#include "nativepool/variable_pool.hpp"

namespace nativepool {

/// A sharded kMutex variable pool with a cache per thread and size class.
class ThreadCachedVariablePool final : public Pool, detail::CacheHost {
 public:
  using Algorithm = ShardedVariablePool;

  /// kInvalidArgument unless 2 <= @p capacity <= kMaxThreadCacheBlocks and
  /// the pool has size classes; kInternal when out of host memory. @p pool
  /// must have been created with a non-zero thread_cache_blocks, so that its
  /// frees claim blocks as parking does.
  [[nodiscard]] static Status create(std::unique_ptr<Algorithm> pool, std::size_t capacity, PoolInfo info,
                                     std::unique_ptr<Pool>* out) noexcept;

  /// The Pool interface as ThreadCachedPool gives it (destruction on any
  /// thread while caches hold blocks, batches past the caches, trim() after
  /// emptying the caller's caches, the pool's snapshot), with these
  /// figures: a parked block is a free block (fragmentation.free_blocks and
  /// free_bytes), never live, so allocations - frees = live_blocks and
  /// bytes_in_use + free_bytes = reserved; cached_blocks stays 0 (explicit
  /// BlockCaches front fixed pools only; Java counts its own caches).
  ~ThreadCachedVariablePool() override;
  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  Status deallocate(void* ptr) noexcept override;
  Status allocate_batch(std::size_t size, std::size_t alignment, void** out, std::size_t count) noexcept override;
  Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept override;
  PoolStats stats() const noexcept override;
  /// The pool's check, and that its slabs mark exactly the cached blocks
  /// parked. Quiescent only.
  Status validate() const noexcept override;
  Status verify() const noexcept override { return validate(); }
  bool leak_report(std::string* /*out*/) const noexcept override { return false; }
  std::size_t trim() noexcept override;
  Status snapshot(MemorySnapshot* out) const noexcept override { return pool_->snapshot(out); }
  const PoolInfo& info() const noexcept override { return info_; }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Blocks parked in this pool's thread caches now (they show as live in
  /// snapshot()).
  [[nodiscard]] std::uint64_t thread_cached_blocks() const noexcept { return totals().parked; }
  /// The shards threads are spread over.
  [[nodiscard]] const ShardedVariablePool& sharded() const noexcept { return *pool_; }

 private:
  struct Magazine {
    std::uint32_t count = 0;
    std::unique_ptr<std::uint64_t[]> handles;  // [0, count), oldest first; made on the class's first use
  };
  struct Slot : detail::CacheSlot {
    std::unique_ptr<Magazine[]> magazines;  // one per size class
    Algorithm::Shard* home = nullptr;       // the thread's shard
  };

  ThreadCachedVariablePool(std::unique_ptr<Algorithm> pool, std::size_t capacity, PoolInfo info) noexcept;

  Slot* my_slot() noexcept { return static_cast<Slot*>(slot()); }
  [[nodiscard]] PoolStats stats_of(const Totals& totals) const noexcept;
  Algorithm::Shard& home_of(Slot* slot) noexcept;
  [[gnu::noinline]] Status allocate_direct(std::size_t size, std::size_t alignment, void** out,
                                           Slot* slot) noexcept;
  [[gnu::noinline]] Status refill(std::size_t size, std::size_t alignment, void** out, Slot& slot,
                                  std::size_t cls) noexcept;
  [[gnu::noinline]] Status deallocate_direct(void* ptr, Slot* slot, Algorithm::Shard* judge) noexcept;
  [[gnu::noinline]] void park_slow(Slot& slot, std::size_t cls, std::uint64_t handle) noexcept;
  void push(Slot& slot, std::size_t cls, std::uint64_t handle) noexcept;
  bool ready(Magazine& magazine) noexcept;
  void drain(Slot& slot, std::size_t cls, std::size_t n) noexcept;
  std::unique_ptr<detail::CacheSlot> make_slot() noexcept override;
  void give_back(detail::CacheSlot& slot) noexcept override;
  void forget(detail::CacheSlot& slot) noexcept override;

  std::unique_ptr<Algorithm> pool_;
  const std::size_t capacity_;
  const std::size_t classes_;
  PoolInfo info_;
};

}  // namespace nativepool
