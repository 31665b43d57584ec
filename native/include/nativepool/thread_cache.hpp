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

#include <atomic>
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

/// One thread's cache of one pool: its counters here, its parked blocks in
/// the pool's own slot type. Written only by that thread (relaxed stores
/// through atomic_ref), read by stats() on any thread, and by the pool alone
/// once the thread has ended.
struct alignas(64) CacheSlot {
  virtual ~CacheSlot() = default;
  std::uint64_t allocations = 0;
  std::uint64_t frees = 0;
  std::uint64_t failures = 0;
  /// Bytes this thread allocated minus bytes it freed, for pools whose
  /// blocks differ in size.
  std::int64_t bytes = 0;
  /// The most net() (or bytes, where the pool counts its peak in bytes) has
  /// been.
  std::int64_t high = 0;
  std::size_t count = 0;  ///< parked blocks
  /// Their bytes, for pools whose blocks differ in size.
  std::uint64_t parked_bytes = 0;

  /// Blocks this thread allocated minus blocks it freed: negative on a
  /// thread that frees what others allocated. Worked out, not stored, so
  /// that a pair writes two counters rather than four.
  [[nodiscard]] std::int64_t net() const noexcept { return static_cast<std::int64_t>(allocations - frees); }
};

/// The slot's owner writes its fields with these, stats() reads them so.
template <class T>
T relaxed_load(const T& field) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}
template <class T>
void relaxed_store(T& field, T value) noexcept {
  std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

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

struct CacheBinding {
  std::uint64_t pool = 0;
  CacheSlot* slot = nullptr;
};
inline constexpr std::size_t kFastBindings = 8;  // a power of two
/// The fast path's table, by pool id modulo its size. Constant-initialised
/// and trivially destructible, so reading it needs no guard and stays valid
/// while the thread's other thread-locals are destroyed.
extern constinit thread_local CacheBinding fast_bindings[kFastBindings];

/// What every pool with thread caches shares (ThreadCachedPool here,
/// ThreadCachedVariablePool in variable_thread_cache.hpp): the registry
/// entry through which ending threads give their caches back, each thread's
/// slot found through a thread-local table, and the counters of the
/// threads that have ended. The pool supplies its slots and how a slot's
/// parked blocks go back.
class CacheHost : public CacheOwner {
 public:
  CacheHost(const CacheHost&) = delete;
  CacheHost& operator=(const CacheHost&) = delete;

 protected:
  /// @p peak_in_bytes: the slots' high follows bytes, else net.
  explicit CacheHost(bool peak_in_bytes) noexcept : peak_in_bytes_(peak_in_bytes) {}
  ~CacheHost() = default;

  /// kInvalidArgument unless @p pool and @p out are set and 2 <= @p capacity
  /// <= kMaxThreadCacheBlocks: what every create() checks first.
  [[nodiscard]] static Status check_create(const void* pool, const void* out, std::size_t capacity) noexcept;
  /// Enters the registry of live pools; kInternal when out of host memory.
  [[nodiscard]] Status enroll() noexcept;
  /// Leaves it, waiting for any thread that is giving a cache back: the
  /// first step of the pool's destructor, while give_back() still works.
  void leave() noexcept;

  /// The calling thread's slot from the fast table, or nullptr: not bound
  /// there. For fast paths that leave the binding to a slow path's tail call.
  [[gnu::always_inline]] CacheSlot* bound_slot() const noexcept {
    const CacheBinding& binding = fast_bindings[id_ & (kFastBindings - 1)];
    return binding.pool == id_ ? binding.slot : nullptr;
  }
  /// The calling thread's slot, made on its first call; nullptr on a thread
  /// whose thread-locals are being destroyed, or out of host memory.
  [[gnu::always_inline]] CacheSlot* slot() noexcept {
    CacheSlot* slot = bound_slot();
    if (slot != nullptr) [[likely]] return slot;
    return bind_slot();
  }
  /// Counts on @p slot, or, for a thread without one, in the pool's own
  /// record (locked: the rare path).
  void count(CacheSlot* slot, std::uint64_t allocations, std::uint64_t frees, std::uint64_t failures,
             std::int64_t bytes) noexcept;

  struct Totals {
    std::uint64_t allocations = 0;
    std::uint64_t frees = 0;
    std::uint64_t failures = 0;
    std::int64_t net = 0;  ///< allocations - frees
    std::int64_t bytes = 0;
    std::int64_t peak = 0;  ///< the sum of every thread's own peak
    std::uint64_t parked = 0;
    std::uint64_t parked_bytes = 0;
  };
  /// @p read(totals), run while no slot can be retired: an ending thread
  /// gives its parked blocks back to the pool under the same lock, so what
  /// @p read then asks the pool (its free blocks for stats(), its parked
  /// claims for validate()) agrees with the counts, even right after a join
  /// of threads whose native exit is still under way (a JVM's). The lock is
  /// taken before the pool's, as retiring does.
  template <class Read>
  [[nodiscard]] auto with_totals(Read&& read) const noexcept {
    std::lock_guard lock(mutex_);
    return read(totals_locked());
  }
  /// Every slot's counters and the ended threads', added up.
  [[nodiscard]] Totals totals() const noexcept {
    return with_totals([](const Totals& totals) { return totals; });
  }

  /// A slot with an empty cache, or nullptr when out of host memory.
  virtual std::unique_ptr<CacheSlot> make_slot() noexcept = 0;
  /// Gives the blocks parked in @p slot back to the pool (a thread ending).
  virtual void give_back(CacheSlot& slot) noexcept = 0;
  /// The thread of @p slot has ended, its blocks given back; the slot goes
  /// next. For what a pool keeps per thread besides the cache.
  virtual void forget(CacheSlot& /*slot*/) noexcept {}

  std::uint64_t id_ = 0;  // in the registry from enroll() to leave()

 private:
  [[gnu::noinline]] CacheSlot* bind_slot() noexcept;
  void retire(CacheSlot* slot) noexcept final;
  [[nodiscard]] std::int64_t peak_bound() const noexcept;
  [[nodiscard]] Totals totals_locked() const noexcept;

  const bool peak_in_bytes_;
  mutable std::mutex mutex_;  // slots_, retired_ and peak_
  std::vector<std::unique_ptr<CacheSlot>> slots_;
  // The counters of ended threads, and of calls made without a cache (a
  // thread in its teardown, or out of host memory for one).
  CacheSlot retired_;
  std::int64_t peak_ = 0;  // the peak bound recorded as threads end
};

}  // namespace detail

/// A kMutex or kLockFree FixedPool with a cache per thread.
template <ThreadSafety Mode>
class ThreadCachedPool final : public Pool, detail::CacheHost {
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
  [[nodiscard]] std::uint64_t thread_cached_blocks() const noexcept { return totals().parked; }

 private:
  struct Slot : detail::CacheSlot {
    std::unique_ptr<std::uint32_t[], detail::LinesDelete> blocks;  // blocks[0, count), oldest first
  };

  ThreadCachedPool(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity, PoolInfo info,
                   FreeCheck check) noexcept;

  Slot* my_bound_slot() const noexcept { return static_cast<Slot*>(bound_slot()); }
  Slot* my_slot() noexcept { return static_cast<Slot*>(slot()); }
  [[nodiscard]] PoolStats stats_of(const Totals& totals) const noexcept;
  [[gnu::noinline]] Status allocate_slow(std::size_t size, std::size_t alignment, void** out) noexcept;
  [[gnu::noinline]] Status deallocate_slow(void* ptr) noexcept;
  void keep(Slot& slot, std::uint32_t index) noexcept;
  [[gnu::noinline]] Status keep_after_drain(Slot& slot, std::uint32_t index) noexcept;
  void drain(Slot& slot, std::size_t n) noexcept;
  std::unique_ptr<detail::CacheSlot> make_slot() noexcept override;
  void give_back(detail::CacheSlot& slot) noexcept override;

  std::unique_ptr<FixedPool<Mode>> pool_;
  const std::size_t capacity_;
  const std::size_t block_size_;
  const std::size_t alignment_;
  const std::size_t stride_;
  const FreeCheck check_;
  FixedParking<Mode> parking_;
  PoolInfo info_;
};

extern template class ThreadCachedPool<ThreadSafety::kMutex>;
extern template class ThreadCachedPool<ThreadSafety::kLockFree>;

}  // namespace nativepool
