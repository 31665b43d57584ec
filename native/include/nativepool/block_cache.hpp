// SPDX-License-Identifier: Apache-2.0
/// @file block_cache.hpp
/// @brief BlockCache: a thread's private stack of free blocks of one
/// fixed-size pool (a "magazine"), and the parked-block counters that keep
/// the pool's statistics exact while blocks sit in caches.
///
/// A shared pool costs every thread a lock or a CAS on one cache line per
/// operation, and two threads bouncing that line cost more than both
/// together would alone. A cache turns the common operation into an array
/// push or pop on memory only its thread touches, and reaches the pool with
/// one batch call every `capacity / 2` operations at worst: the thread
/// caches of glibc, jemalloc and mimalloc, made explicit. The Java
/// org.nativepool.BlockCache is the same design on the Java side of JNI and
/// shares the counters declared here.
///
/// Every free is checked at once, as the Java BlockCache checks it: over a
/// pool that lends its state per block (Pool::parking(): the fixed pools of
/// make_fixed_pool at SafetyLevel OFF, with or without thread caches),
/// deallocate() moves the block's state from allocated to parked with one
/// CAS, so a double free (of a block free in the pool, or parked in this
/// cache, another cache or a thread cache, on any thread), a foreign, an
/// interior or a null pointer is refused by the free itself and the cache
/// keeps only good blocks. Over a pool with safety layers, which must see
/// every free themselves, a free is parked unchecked and the pool refuses
/// a bad one when the cache drains; until then the cache may hand the same
/// block out twice.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "nativepool/block_parking.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/status.hpp"

namespace nativepool {

/// How many blocks one cache holds parked, published for stats(). Written
/// only by the cache's thread, with plain stores (from Java: a store through
/// a direct ByteBuffer over `blocks`), read by any thread.
struct alignas(64) ParkedCounter {
  std::uint64_t blocks = 0;
};

/// Registers a counter for a cache of @p pool; null when out of host memory.
/// Pool::stats() subtracts the registered counters from its live figures.
[[nodiscard]] ParkedCounter* open_parked_counter(const Pool* pool) noexcept;
/// Unregisters and frees a counter of open_parked_counter().
void close_parked_counter(ParkedCounter* counter) noexcept;
/// Blocks parked in the caches of @p pool right now.
[[nodiscard]] std::uint64_t parked_blocks(const Pool* pool) noexcept;
/// Detaches the counters of a pool being destroyed: they live on until each
/// cache closes, counting for no pool (a new pool may reuse the address).
void forget_parked_counters(const Pool* pool) noexcept;

/// A cache of free blocks of one fixed-size pool, for one thread at a time.
/// The pool must be shared-safe (kMutex or kLockFree) if other threads or
/// caches use it, and must outlive the cache. Blocks may be freed into any
/// cache of their pool, or to the pool itself, by any thread.
class BlockCache {
 public:
  /// kInvalidArgument unless @p pool is a fixed-size pool and
  /// @p capacity >= 2; kInternal when out of host memory. @p check: how a
  /// free is checked where the pool lends parking (FreeCheck;
  /// kUncheckedRaces misses two frees of one block racing on two threads).
  [[nodiscard]] static Status create(Pool& pool, std::size_t capacity, std::unique_ptr<BlockCache>* out,
                                     FreeCheck check = FreeCheck::kAtomic) noexcept;

  /// Returns every parked block to the pool.
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  /// A block of the pool's block size; refills half the cache from the pool
  /// when empty, failing as the pool's allocate_batch() does.
  [[nodiscard]] Status allocate(void** out) noexcept {
    if (count_ == 0) [[unlikely]] return refill_then_allocate(out);
    --count_;
    *out = parking_ != nullptr ? parking_->unpark(indices_[count_]) : blocks_[count_];
    publish();
    return Status::kOk;
  }

  /// Parks @p ptr for reuse; drains the older half of the cache to the pool
  /// when full. kDoubleFree or kInvalidFree, with nothing parked, for a
  /// pointer that is no allocated block of the pool. Over a pool without
  /// parking(), the pool's verdict on a drained block instead: a bad pointer
  /// parked earlier (or this one).
  [[nodiscard]] Status deallocate(void* ptr) noexcept {
    if (count_ == capacity_ || parking_ == nullptr) [[unlikely]] return deallocate_slow(ptr);
    if (Status status = parking_->park(ptr, check_, &indices_[count_]); status != Status::kOk) [[unlikely]] {
      return status;
    }
    ++count_;
    publish();
    return Status::kOk;
  }

  /// Returns every parked block to the pool.
  [[nodiscard]] Status flush() noexcept { return drain(count_); }

  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  BlockCache(Pool& pool, std::unique_ptr<void*[]> blocks, std::unique_ptr<std::uint32_t[]> indices,
             std::size_t capacity, ParkedCounter* counter, FreeCheck check) noexcept;

  void publish() noexcept {
    std::atomic_ref<std::uint64_t>(counter_->blocks).store(count_, std::memory_order_relaxed);
  }
  [[gnu::noinline]] Status refill_then_allocate(void** out) noexcept;
  [[gnu::noinline]] Status deallocate_slow(void* ptr) noexcept;
  Status drain(std::size_t n) noexcept;

  Pool& pool_;
  BlockParking* const parking_;  // null: blocks_ holds the parked blocks, unchecked
  const FreeCheck check_;
  const std::size_t block_size_;
  // With parking, the parked blocks are indices_[0, count_), and blocks_
  // holds the addresses a refill or drain moves.
  std::unique_ptr<void*[]> blocks_;
  std::unique_ptr<std::uint32_t[]> indices_;
  const std::size_t capacity_;
  std::size_t count_ = 0;
  ParkedCounter* const counter_;
};

}  // namespace nativepool
