// SPDX-License-Identifier: Apache-2.0
/// @file fixed_pool.hpp
/// @brief FixedPool: blocks of one size and alignment, O(1) allocate/free,
/// with thread safety chosen per pool (none, mutex, lock-free).
///
/// Blocks come in chunks reserved from a Backend. The free list is a LIFO
/// stack of 32-bit block indices whose links live in host-side arrays, never
/// in the blocks: the pool never touches the memory it manages, so it serves
/// device memory unchanged, and a user's overrun cannot corrupt it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "nativepool/backend.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// How a FixedPool carves and reserves its blocks.
struct FixedPoolConfig {
  /// Usable bytes per block; > 0.
  std::size_t block_size = 0;
  /// Power of two. Blocks sit `stride = round_up(block_size, alignment)` apart.
  std::size_t alignment = 16;
  /// Blocks per growth step, rounded up to a power of two so that a block
  /// index splits into chunk and slot with a shift; 0 = about 1 MiB worth.
  std::size_t blocks_per_chunk = 0;
  /// Blocks reserved at construction (whole chunks, capped by the maximum).
  std::size_t initial_blocks = 0;
  /// The most blocks the pool ever holds, honoured exactly (the last chunk
  /// may be partial); 0 = as many as 32-bit block indices allow.
  std::size_t max_blocks = 0;
};

/// A pool of equal-sized blocks.
///
/// - allocate: O(1), a pop from the free stack (a CAS in kLockFree mode).
/// - deallocate: O(log chunks) to map the address to its chunk by binary
///   search over a sorted snapshot of the chunk table, then an O(1) push.
///   Double frees, interior and foreign pointers are always detected through
///   a per-block state byte, and leave the pool unchanged.
/// - kLockFree: the stack head packs a 32-bit tag with the 32-bit top index
///   and every CAS bumps the tag, which defeats ABA. Growth and trim, the
///   rare slow paths, take a mutex in every mode.
///
/// @tparam Mode kNone, kMutex or kLockFree.
template <ThreadSafety Mode>
class FixedPool {
 public:
  static constexpr bool kConcurrent = Mode != ThreadSafety::kNone;

  /// Validates @p config and reserves config.initial_blocks. kInvalidArgument
  /// for a zero or overflowing block size, a bad alignment or a block count
  /// beyond 32-bit indices; kOutOfPoolMemory if the initial chunks fail.
  [[nodiscard]] static Status create(const FixedPoolConfig& config, std::shared_ptr<Backend> backend,
                                     std::unique_ptr<FixedPool>* out) noexcept;

  /// Returns every chunk to the backend, live blocks included.
  ~FixedPool();
  FixedPool(const FixedPool&) = delete;
  FixedPool& operator=(const FixedPool&) = delete;

  /// Hands out one block. @p size must be in [1, block_size] and
  /// @p alignment a power of two no larger than the pool's (0: the pool's).
  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept;

  /// Returns a block; @p freed_size (if not null) receives counted_size().
  [[nodiscard]] Status deallocate(void* ptr, std::size_t* freed_size) noexcept;

  /// A block counts as its whole stride, so that bytes in use plus free
  /// bytes always equal the bytes reserved.
  [[nodiscard]] std::size_t counted_size(std::size_t /*size*/) const noexcept { return stride_; }

  /// Returns every chunk whose blocks are all free; returns bytes released.
  std::size_t trim() noexcept;

  /// Quiescent check of the free stack, block states, chunk snapshot and
  /// reservation; kCorrupted naming the first violation.
  [[nodiscard]] Status validate() const noexcept;

  /// Free blocks and bytes; external fragmentation is 0 by construction.
  [[nodiscard]] Fragmentation fragmentation() const noexcept;
  [[nodiscard]] Reservation reservation() const noexcept;

  [[nodiscard]] std::size_t block_size() const noexcept { return block_size_; }
  [[nodiscard]] std::size_t alignment() const noexcept { return alignment_; }
  [[nodiscard]] std::size_t stride() const noexcept { return stride_; }
  [[nodiscard]] const Backend& backend() const noexcept { return *backend_; }

 private:
  static constexpr std::uint32_t kNil = 0xFFFFFFFFU;
  static constexpr std::uint8_t kFree = 0;
  static constexpr std::uint8_t kAllocated = 1;

  // Per-chunk metadata. The arrays are sized for a full chunk, allocated when
  // the slot is first used and kept until the pool dies: a lock-free thread
  // that lost a race may still read a link of a trimmed chunk.
  struct Chunk {
    std::atomic<std::uintptr_t> base{0};  // 0 while the slot holds no memory
    std::uint32_t blocks = 0;
    std::unique_ptr<std::atomic<std::uint32_t>[]> next;
    std::unique_ptr<std::atomic<std::uint8_t>[]> state;
  };
  // Chunk bases in address order, for the free path's binary search.
  // Immutable once published; replaced wholesale by growth and trim.
  struct Snapshot {
    std::vector<std::uintptr_t> bases;
    std::vector<std::uint32_t> chunks;
  };

  // Only kMutex locks on the fast path; kLockFree uses CAS instead.
  using FastLock = std::conditional_t<Mode == ThreadSafety::kMutex, std::mutex, NoLock>;
  using FreeCount = std::conditional_t<Mode == ThreadSafety::kLockFree, std::atomic<std::size_t>, std::size_t>;

  FixedPool(const FixedPoolConfig& config, std::size_t stride, std::size_t blocks_per_chunk,
            std::size_t max_chunks, std::shared_ptr<Backend> backend) noexcept;

  std::uint32_t pop() noexcept;
  void push(std::uint32_t first, std::uint32_t last) noexcept;
  std::uint32_t detach_all() noexcept;

  [[gnu::noinline]] Status allocate_slow(std::uint32_t* index) noexcept;
  Status grow() noexcept;
  bool publish_snapshot() noexcept;
  bool locate(const void* ptr, std::uint32_t* index) const noexcept;
  [[gnu::noinline]] Status bad_request(std::size_t size, std::size_t alignment) const noexcept;
  [[gnu::noinline]] Status bad_free(const void* ptr) const noexcept;

  [[nodiscard]] std::atomic<std::uint32_t>& link(std::uint32_t index) const noexcept {
    return chunks_[index >> chunk_shift_].next[index & slot_mask_];
  }
  [[nodiscard]] std::atomic<std::uint8_t>& state(std::uint32_t index) const noexcept {
    return chunks_[index >> chunk_shift_].state[index & slot_mask_];
  }
  [[nodiscard]] std::uintptr_t address_of(std::uint32_t index) const noexcept {
    return chunks_[index >> chunk_shift_].base.load(std::memory_order_relaxed) + (index & slot_mask_) * stride_;
  }
  [[nodiscard]] std::uint32_t blocks_in_slot(std::size_t slot) const noexcept;
  [[nodiscard]] std::size_t free_blocks() const noexcept;
  void add_free(std::size_t n) noexcept;
  void remove_free(std::size_t n) noexcept;

  const std::size_t block_size_;
  const std::size_t alignment_;
  const std::size_t stride_;
  const unsigned chunk_shift_;
  const std::uint32_t slot_mask_;
  const std::size_t max_chunks_;
  const std::size_t max_blocks_;
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<Chunk[]> chunks_;

  // The stack head: a plain index, or (tag << 32 | index) in kLockFree mode.
  alignas(64) std::atomic<std::uint64_t> head_{kNil};
  FreeCount free_count_{0};
  [[no_unique_address]] mutable FastLock lock_;

  alignas(64) mutable std::mutex growth_;
  std::atomic<const Snapshot*> snapshot_{nullptr};
  // Every snapshot ever published in kLockFree mode (a reader may still hold
  // an old one); only the current one otherwise.
  std::vector<std::unique_ptr<Snapshot>> snapshots_;
  std::atomic<std::uint64_t> reserved_bytes_{0};
  std::atomic<std::uint64_t> peak_reserved_bytes_{0};
  std::atomic<std::uint64_t> regions_{0};
};

extern template class FixedPool<ThreadSafety::kNone>;
extern template class FixedPool<ThreadSafety::kMutex>;
extern template class FixedPool<ThreadSafety::kLockFree>;

static_assert(PoolAlgorithm<FixedPool<ThreadSafety::kNone>>);
static_assert(PoolAlgorithm<FixedPool<ThreadSafety::kMutex>>);
static_assert(PoolAlgorithm<FixedPool<ThreadSafety::kLockFree>>);

}  // namespace nativepool
