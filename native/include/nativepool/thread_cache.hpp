// SPDX-License-Identifier: Apache-2.0
/// @file thread_cache.hpp
/// @brief ThreadCachedPool: a shared FixedPool with a transparent cache of
/// free blocks per thread in front of it, behind the type-erased Pool.
///
/// The explicit BlockCache (block_cache.hpp) made automatic, the way the
/// thread caches of glibc, jemalloc and mimalloc are: each thread that uses
/// the pool gets a small magazine of parked block indices, allocate and free
/// are an array pop or push on memory only that thread writes, and the
/// magazine takes from or gives back to the pool half its capacity in one
/// chain when empty or full. A block freed on another thread than the one
/// that allocated it goes into the freeing thread's magazine.
///
/// Every free is still checked at once: parking moves the block's state
/// byte from allocated to parked with one CAS, so a double free, a free of
/// a parked block, an interior or a foreign pointer is refused by the free
/// itself. What the magazine saves is the lock or the CAS on the stack head
/// and the counters every thread would write. FreeCheck::kUncheckedRaces
/// (opt-in) trades the CAS for a plain load and store, and with it the
/// detection of two frees of one block racing on two threads.
///
/// Counting is per thread too: each thread's magazine carries the counters
/// of that thread's operations, written by it alone with plain stores on a
/// cache line of its own, and stats() adds them up. Allocations, frees, failures, live blocks and bytes in use are exact
/// whenever no thread is inside the pool; parked blocks count as free. The
/// peak is the sum of every thread's own peak: exact while one thread at a
/// time uses the pool, an upper bound otherwise.
///
/// Lifetimes. The pool owns the magazines; a thread reaches its own through
/// a thread-local table keyed by a pool id that is never reused, so a thread
/// never finds the magazine of a destroyed pool. As a thread ends, its
/// magazines go back to the pools that still exist (a registry of live pool
/// ids, locked only on that path and on pool creation and destruction), so
/// threads that come and go do not make the pool grow. Destroying the pool
/// on any thread while other threads' magazines hold blocks is safe: the
/// memory goes back with the pool, and those threads later skip it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "nativepool/block_parking.hpp"
#include "nativepool/fixed_pool.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// The most blocks one thread's cache may hold.
inline constexpr std::size_t kMaxThreadCacheBlocks = 65536;

namespace detail {

/// Frees what allocate_lines() allocated.
struct LinesDelete {
  void operator()(std::uint32_t* lines) const noexcept;
};
/// Room for @p count block indices in whole cache lines of their own, so
/// that no other thread's data shares a line with them; null when out of
/// host memory.
[[nodiscard]] std::unique_ptr<std::uint32_t[], LinesDelete> allocate_lines(std::size_t count) noexcept;

/// One thread's cache of one pool. Written only by that thread (relaxed
/// stores through atomic_ref), read by stats() on any thread, and by the
/// pool alone once the thread has ended.
struct alignas(64) CacheSlot {
  std::uint64_t allocations = 0;
  std::uint64_t frees = 0;
  std::uint64_t failures = 0;
  /// The most allocations - frees has been: the net is negative on a
  /// thread that frees what others allocated.
  std::int64_t high = 0;
  std::size_t count = 0;  ///< parked blocks, blocks[0, count), oldest first
  std::unique_ptr<std::uint32_t[], LinesDelete> blocks;

  [[nodiscard]] std::int64_t net() const noexcept { return static_cast<std::int64_t>(allocations - frees); }
};

/// A pool with thread caches, as an ending thread sees it.
class CacheOwner {
 public:
  /// Runs on @p slot's thread as it ends, with the registry locked so that
  /// the pool cannot be destroyed meanwhile: parked blocks go back, the
  /// counters are kept, the slot is freed.
  virtual void retire(CacheSlot* slot) noexcept = 0;

 protected:
  CacheOwner() = default;
  ~CacheOwner() = default;
};

}  // namespace detail

/// A kMutex or kLockFree FixedPool with a cache per thread.
template <ThreadSafety Mode>
class ThreadCachedPool final : public Pool, detail::CacheOwner {
  static_assert(Mode != ThreadSafety::kNone, "a pool of one thread needs no thread caches");

 public:
  /// kInvalidArgument unless 2 <= @p capacity <= kMaxThreadCacheBlocks;
  /// kInternal when out of host memory. @p pool must have been created with
  /// a non-zero thread_cache_blocks, so that it keeps the snapshots that
  /// parking reads without its lock. @p check: how frees are checked.
  [[nodiscard]] static Status create(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity, PoolInfo info,
                                     std::unique_ptr<Pool>* out, FreeCheck check = FreeCheck::kAtomic) noexcept;

  /// Safe on any thread while other threads' caches hold blocks.
  ~ThreadCachedPool() override;

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  Status deallocate(void* ptr) noexcept override;
  /// Batches bypass the caches: one chain to or from the pool, counted on
  /// the calling thread.
  Status allocate_batch(std::size_t size, std::size_t alignment, void** out, std::size_t count) noexcept override;
  Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept override;

  /// The caches are transparent: allocations and frees are the callers',
  /// and a parked block is a free block (fragmentation.free_blocks), never
  /// live. cached_blocks are the blocks of explicit BlockCaches (and Java's
  /// thread caches), as ErasedPool counts them: allocations - frees =
  /// live_blocks + cached_blocks, bytes_in_use + cached_bytes + free_bytes =
  /// reserved.
  PoolStats stats() const noexcept override;
  /// The pool's own check, and that the thread caches and explicit
  /// BlockCaches hold exactly the blocks marked parked. Quiescent only.
  Status validate() const noexcept override;
  Status verify() const noexcept override { return validate(); }
  bool leak_report(std::string* /*out*/) const noexcept override { return false; }
  /// Empties the calling thread's cache first; blocks parked by other
  /// threads keep their chunks.
  std::size_t trim() noexcept override;
  /// The pool's; blocks parked in thread caches are cached.
  Status snapshot(MemorySnapshot* out) const noexcept override { return pool_->snapshot(out); }
  const PoolInfo& info() const noexcept override { return info_; }
  /// Explicit BlockCaches park in the state bytes the thread caches use,
  /// checked as each cache's own FreeCheck says.
  BlockParking* parking() noexcept override { return &parking_; }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Blocks parked in this pool's thread caches now (counted in
  /// fragmentation.free_blocks).
  [[nodiscard]] std::uint64_t thread_cached_blocks() const noexcept;

 private:
  using Slot = detail::CacheSlot;

  ThreadCachedPool(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity, PoolInfo info,
                   FreeCheck check) noexcept;

  [[nodiscard]] Slot* bound_slot() const noexcept;
  Slot* slot() noexcept;
  [[gnu::noinline]] Slot* bind_slot() noexcept;
  [[gnu::noinline]] Status allocate_slow(std::size_t size, std::size_t alignment, void** out) noexcept;
  [[gnu::noinline]] Status deallocate_slow(void* ptr) noexcept;
  void keep(Slot& slot, std::uint32_t index) noexcept;
  [[gnu::noinline]] Status keep_after_drain(Slot& slot, std::uint32_t index) noexcept;
  void drain(Slot& slot, std::size_t n) noexcept;
  void count(Slot* slot, std::uint64_t allocations, std::uint64_t frees, std::uint64_t failures) noexcept;
  void retire(Slot* slot) noexcept override;
  [[nodiscard]] std::int64_t peak_bound() const noexcept;

  std::unique_ptr<FixedPool<Mode>> pool_;
  const std::size_t capacity_;
  const std::size_t block_size_;
  const std::size_t alignment_;
  const std::size_t stride_;
  const FreeCheck check_;
  FixedParking<Mode> parking_;
  PoolInfo info_;
  std::uint64_t id_ = 0;  // in the registry from create() to the destructor's first line

  mutable std::mutex mutex_;  // slots_, retired_ and peak_
  std::vector<std::unique_ptr<Slot>> slots_;
  // The counters of ended threads, and of calls made without a cache (a
  // thread in its teardown, or out of host memory for one).
  Slot retired_;
  std::int64_t peak_ = 0;  // the peak bound recorded as threads end
};

extern template class ThreadCachedPool<ThreadSafety::kMutex>;
extern template class ThreadCachedPool<ThreadSafety::kLockFree>;

}  // namespace nativepool
