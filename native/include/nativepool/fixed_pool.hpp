// SPDX-License-Identifier: Apache-2.0
/// @file fixed_pool.hpp
/// @brief FixedPool: blocks of one size and alignment, O(1) allocate/free,
/// with thread safety chosen per pool (none, mutex, lock-free).
///
/// Blocks come in chunks reserved from a Backend. The free list is a LIFO
/// stack of 32-bit block indices whose links live in host-side arrays, never
/// in the blocks: the pool never reads or writes the memory it manages, so it
/// serves device memory unchanged, and a user's overrun cannot corrupt it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "nativepool/backend.hpp"
#include "nativepool/math.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// How a thread cache checks that a block being freed is in a user's hands
/// before it parks it (thread_cache.hpp).
enum class FreeCheck : std::uint8_t {
  /// One CAS on the block's state byte: every double free is refused, two
  /// frees of one block racing on two threads included. The default.
  kAtomic,
  /// A plain load and store of the state byte instead of the CAS. Still
  /// refused: null, foreign, interior and never-allocated pointers, and
  /// every double free whose first free happened before the second (on any
  /// thread: the user's own hand-over of the block orders them). Missed:
  /// two frees of one block racing on two threads, which may both park it,
  /// so that it is later handed out twice. Opt-in; it saves the locked
  /// instruction (docs/performance.md says what that measured).
  kUncheckedRaces,
};

/// How a FixedPool carves and reserves its blocks.
struct FixedPoolConfig {
  /// Usable bytes per block; > 0.
  std::size_t block_size = 0;
  /// Power of two. Blocks sit `stride = round_up(block_size, alignment)` apart.
  std::size_t alignment = 16;
  /// Blocks per growth step, rounded up to a power of two so that a block
  /// index splits into chunk and slot with a shift. 0 = about 1 MiB worth
  /// (at least one block), raised if the maximum needs more than 65536 chunks.
  std::size_t blocks_per_chunk = 0;
  /// Blocks reserved at construction (whole chunks, capped by the maximum).
  std::size_t initial_blocks = 0;
  /// The most blocks the pool ever holds, honoured exactly (the last chunk
  /// may be partial); at most 2^32 - 2. 0 = 65536 chunks' worth.
  std::size_t max_blocks = 0;
  /// Blocks each thread may keep in its own cache in front of a shared
  /// (kMutex, kLockFree) pool built by make_fixed_pool() at SafetyLevel OFF
  /// (thread_cache.hpp); 0 = no caches. The pool itself only learns from it
  /// that threads will park blocks without its lock.
  std::size_t thread_cache_blocks = 64;
  /// How those caches check a free (FreeCheck); kAtomic unless a caller
  /// opts out of catching racing double frees.
  FreeCheck thread_cache_free_check = FreeCheck::kAtomic;
};

/// A pool of equal-sized blocks.
///
/// - allocate: O(1), a pop from the free stack (a CAS in kLockFree mode).
/// - deallocate: O(log chunks) to map the address to its chunk by binary
///   search over an immutable, sorted snapshot of the chunk table, then an
///   O(1) push.
/// - Errors: double frees, interior and foreign pointers are always detected
///   through a per-block state byte and leave the pool unchanged. The state
///   byte also carries the chunk's generation, so a stale free racing with
///   trim() and regrowth of the same chunk slot cannot free a new block.
/// - kLockFree: the stack head packs a 32-bit tag with the 32-bit top index
///   and every CAS bumps the tag, which defeats ABA. Growth and trim, the
///   rare slow paths, take a mutex in every mode.
/// - Batches move a whole chain of blocks with one CAS or lock hold, and
///   every block is still checked through its state byte.
/// - Host metadata: a table of up to 65536 chunk records (32 bytes each) made
///   at creation, plus 5 bytes per block (68 in chunks of fewer than 64
///   blocks, where each state byte gets a cache line of its own). In kLockFree mode, and whenever
///   thread caches or BlockCaches park blocks without the lock, every chunk snapshot
///   published by growth and trim is retained until destruction, because a
///   concurrent free may still be searching it.
///
/// @tparam Mode kNone, kMutex or kLockFree.
template <ThreadSafety Mode>
class FixedPool {
 public:
  static constexpr bool kConcurrent = Mode != ThreadSafety::kNone;

  /// Validates @p config and reserves config.initial_blocks. kInvalidArgument
  /// for a zero block size, a bad alignment, a stride or chunk beyond 2^48
  /// bytes, or a maximum beyond 32-bit block indices or the chunk table;
  /// kOutOfPoolMemory if the initial chunks cannot be reserved.
  [[nodiscard]] static Status create(const FixedPoolConfig& config, std::shared_ptr<Backend> backend,
                                     std::unique_ptr<FixedPool>* out) noexcept;

  /// Returns every chunk to the backend, live blocks included.
  ~FixedPool();
  FixedPool(const FixedPool&) = delete;
  FixedPool& operator=(const FixedPool&) = delete;

  /// Hands out one block. @p size must be in [1, block_size] and
  /// @p alignment a power of two no larger than the pool's (0: the pool's);
  /// otherwise kInvalidArgument. kOutOfPoolMemory when the pool holds its
  /// maximum or the backend refuses another chunk.
  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept;

  /// Returns a block; @p freed_size (if not null) receives counted_size().
  /// kInvalidFree for null, foreign and interior pointers, kDoubleFree for a
  /// block that is already free.
  [[nodiscard]] Status deallocate(void* ptr, std::size_t* freed_size) noexcept;

  /// All or nothing: @p count blocks into @p out, popped as one chain with
  /// one CAS (kLockFree) or under one lock hold, or none and the failure of
  /// allocate(). A batch refused because the pool would pass its maximum
  /// grows no chunk; one refused by the backend keeps the chunks it grew
  /// first (free, and trim() returns them). @p out is written only on
  /// success.
  [[nodiscard]] Status allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                      std::size_t count) noexcept;

  /// Frees in order and stops at the first pointer deallocate() would
  /// refuse, with its status; the blocks before it go back as one chain
  /// (one CAS or one lock hold). @p freed receives how many were freed and
  /// @p freed_bytes their counted size.
  [[nodiscard]] Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed,
                                        std::size_t* freed_bytes) noexcept;

  /// @name Parking, for the thread caches of thread_cache.hpp
  /// A parked block is out of the pool but in no user's hands: its state
  /// byte says so, so that freeing it (or parking it again) is refused as a
  /// double free at once. Caches hold block indices, which turn back into
  /// addresses without a search. Parking and unparking take no lock and no
  /// CAS on the shared stack head; taking and releasing move one chain.
  /// @{

  /// Moves between 1 and @p max free blocks to parked, growing the pool if
  /// none is free; fails as allocate() does.
  [[nodiscard]] Status take_parked(std::uint32_t* out, std::size_t max, std::size_t* taken) noexcept;
  /// Checks @p ptr as deallocate() does and parks it (one CAS on its state
  /// byte); its index goes to @p index.
  [[nodiscard]] Status park(void* ptr, std::uint32_t* index) noexcept;
  /// park() with a plain load and store of the state byte, which misses a
  /// double free racing on another thread (FreeCheck::kUncheckedRaces).
  [[nodiscard]] Status park_unchecked_races(void* ptr, std::uint32_t* index) noexcept;
  /// Hands out a block the caller parked.
  [[nodiscard]] void* unpark(std::uint32_t index) noexcept;
  /// Returns @p count blocks the caller parked to the free stack.
  void release_parked(const std::uint32_t* indices, std::size_t count) noexcept;
  /// Lets callers park and unpark without the pool's lock from now on (an
  /// explicit BlockCache over a kMutex pool built without thread caches):
  /// every chunk snapshot published later is kept, as for thread caches.
  void allow_unlocked_parking() noexcept;
  /// validate(), and that exactly @p parked blocks are parked.
  [[nodiscard]] Status validate_parked(std::size_t parked) const noexcept;
  /// @}

  /// A block counts as its whole stride, so that bytes in use plus free
  /// bytes always equal the bytes reserved.
  [[nodiscard]] std::size_t counted_size(std::size_t /*size*/) const noexcept { return stride_; }

  /// Returns every chunk whose blocks are all free; returns bytes released.
  /// Safe to call while other threads allocate and free.
  std::size_t trim() noexcept;

  /// Quiescent check of the free stack, block states, chunk snapshot and
  /// reservation; kCorrupted naming the first violation.
  [[nodiscard]] Status validate() const noexcept;

  /// Free blocks and bytes (counted by stride); external fragmentation is 0
  /// by construction.
  [[nodiscard]] Fragmentation fragmentation() const noexcept;
  [[nodiscard]] Reservation reservation() const noexcept;

  /// Every chunk in address order with its free, allocated (live) and
  /// parked (cached) blocks as runs. Holds the growth lock, and in kMutex
  /// mode the pool's lock, for one pass over the state bytes (about a
  /// millisecond per million blocks); kLockFree allocations go on meanwhile,
  /// so each block's state is one it had during the walk. kInternal when out
  /// of host memory.
  [[nodiscard]] Status snapshot(MemorySnapshot* out) const noexcept;

  [[nodiscard]] std::size_t block_size() const noexcept { return block_size_; }
  [[nodiscard]] std::size_t alignment() const noexcept { return alignment_; }
  [[nodiscard]] std::size_t stride() const noexcept { return stride_; }
  [[nodiscard]] const Backend& backend() const noexcept { return *backend_; }

 private:
  static constexpr std::uint32_t kNil = 0xFFFFFFFFU;

  // A chunk slot. `next` and `state` are sized for a full chunk, allocated
  // when the slot is first used and kept until the pool dies: a lock-free
  // thread that lost a race may still read a link of a trimmed chunk. The
  // plain fields change only under growth_ while the slot holds no block
  // anyone could be using, and reach other threads through the release of
  // the push or snapshot that follows.
  struct Chunk {
    std::uintptr_t base = 0;  // 0 while the slot holds no memory
    std::uint32_t blocks = 0;
    std::uint8_t generation = 0;  // bumped each time the slot gets memory
    std::unique_ptr<std::atomic<std::uint32_t>[]> next;
    // generation << 2 | kFresh, kFree, kAllocated or kParked: a free that
    // looked the chunk up in an older snapshot expects an older generation,
    // and its CAS fails.
    std::unique_ptr<std::atomic<std::uint8_t>[]> state;
  };
  // The live chunks in address order, for the free path's binary search.
  // Immutable once published; replaced wholesale by growth and trim.
  struct Snapshot {
    struct Entry {
      std::uintptr_t base;
      std::uintptr_t end;
      std::uint32_t chunk;
      std::uint8_t generation;
    };
    std::vector<Entry> entries;
  };

  // A block's state byte: generation << 2 | one of these. kFresh is a free
  // block never handed out since its chunk got memory, so that freeing it
  // is an invalid free, not a double one.
  enum : std::uint8_t { kFree = 0, kAllocated = 1, kParked = 2, kFresh = 3 };

  // Only kMutex locks on the fast path; kLockFree uses CAS instead.
  using FastLock = std::conditional_t<Mode == ThreadSafety::kMutex, std::mutex, NoLock>;
  // Atomic whenever fragmentation() may read it while another thread writes.
  using FreeCount = std::conditional_t<kConcurrent, std::atomic<std::size_t>, std::size_t>;

  FixedPool(const FixedPoolConfig& config, std::size_t stride, std::size_t blocks_per_chunk,
            std::size_t max_chunks, std::shared_ptr<Backend> backend) noexcept;

  static constexpr std::uint8_t mark(std::uint8_t generation, std::uint8_t kind) noexcept {
    return static_cast<std::uint8_t>(generation << 2 | kind);
  }

  // A chain of linked indices off the stack.
  struct Chain {
    std::uint32_t first = kNil;
    std::uint32_t last = kNil;
    std::size_t length = 0;
  };

  std::uint32_t pop() noexcept;
  Chain pop_chain(std::size_t max) noexcept;
  void push(std::uint32_t first, std::uint32_t last) noexcept;
  std::uint32_t detach_all() noexcept;
  template <bool Atomic = kConcurrent>
  Status claim(void* ptr, std::uint8_t kind, std::uint32_t* index) noexcept;
  void* hand_out(std::uint32_t index, std::uint8_t kind) noexcept;

  [[gnu::noinline]] Status allocate_slow(std::uint32_t* index) noexcept;
  [[gnu::noinline]] Status pop_chain_slow(std::size_t count, std::size_t min, Chain* chain) noexcept;
  Status check(const std::size_t* parked) const noexcept;
  Status grow() noexcept;
  [[nodiscard]] Status pool_full() const noexcept;
  std::unique_ptr<Snapshot> prepare_snapshot() noexcept;
  void publish(std::unique_ptr<Snapshot> snapshot) noexcept;
  static const typename Snapshot::Entry* find(const Snapshot& snapshot, std::uintptr_t address) noexcept;
  [[gnu::noinline]] Status bad_request(std::size_t size, std::size_t alignment) const noexcept;
  [[gnu::noinline]] Status bad_free(const void* ptr) const noexcept;
  // bad_free() for the fast paths: saying that it never returns kOk lets
  // their callers end a failure in a tail call instead of testing its
  // status and coming back to the fast path's state.
  [[nodiscard]] Status refuse(const void* ptr) const noexcept {
    const Status status = bad_free(ptr);
    if (status == Status::kOk) __builtin_unreachable();
    return status;
  }

  // Neighbouring blocks keep their state bytes on different cache lines (a
  // transpose: slot s sits on line s % lines): a thread cache's refill takes
  // a run of neighbours off the stack, and two threads parking blocks a few
  // slots apart would otherwise write one line from two cores on every
  // call. Chunks of fewer than 64 blocks give each block a line.
  [[nodiscard]] std::atomic<std::uint8_t>& state_of(const Chunk& chunk, std::uint32_t slot) const noexcept {
    return chunk.state[(slot & state_lines_mask_) << 6 | slot >> state_lines_shift_];
  }
  [[nodiscard]] std::atomic<std::uint32_t>& link(std::uint32_t index) const noexcept {
    return chunks_[index >> chunk_shift_].next[index & slot_mask_];
  }
  [[nodiscard]] std::size_t free_blocks() const noexcept;
  void add_free(std::size_t n) noexcept;
  void remove_free(std::size_t n) noexcept;

  const std::size_t block_size_;
  const std::size_t alignment_;
  const std::size_t stride_;
  const ExactDivider by_stride_;
  const std::size_t chunk_alignment_;
  const unsigned chunk_shift_;
  const std::uint32_t slot_mask_;
  const std::uint32_t state_lines_mask_;  // state cache lines per chunk, minus one
  const unsigned state_lines_shift_;
  const std::size_t max_chunks_;
  const std::size_t max_blocks_;
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<Chunk[]> chunks_;

  // The stack head: a plain index, or (tag << 32 | index) in kLockFree mode.
  // The free count shares its cache line: both change on every operation.
  alignas(64) std::atomic<std::uint64_t> head_{kNil};
  FreeCount free_count_{0};
  [[no_unique_address]] mutable FastLock lock_;

  alignas(64) mutable std::mutex growth_;
  std::size_t slots_used_ = 0;  // slots ever given memory; under growth_
  std::atomic<const Snapshot*> snapshot_{nullptr};
  // Every snapshot published while lock-free readers exist (kLockFree, or
  // caches parking without the lock): one may still hold an old one. Only
  // the current one otherwise. Under growth_.
  bool retain_snapshots_;
  std::vector<std::unique_ptr<Snapshot>> snapshots_;
  std::atomic<std::uint64_t> reserved_bytes_{0};
  std::atomic<std::uint64_t> peak_reserved_bytes_{0};
  std::atomic<std::uint64_t> regions_{0};
};

// ---- Inline: the part of freeing and parking a thread cache runs -------

template <ThreadSafety Mode>
[[gnu::always_inline]] inline auto FixedPool<Mode>::find(const Snapshot& snapshot, std::uintptr_t address) noexcept
    -> const typename Snapshot::Entry* {
  const auto after = std::upper_bound(snapshot.entries.begin(), snapshot.entries.end(), address,
                                      [](std::uintptr_t a, const typename Snapshot::Entry& e) { return a < e.base; });
  if (after == snapshot.entries.begin()) return nullptr;
  const auto* entry = &*(after - 1);
  return address < entry->end ? entry : nullptr;
}

// Checks that @p ptr is an allocated block of this pool and moves its state
// to @p kind. Concurrent modes use a CAS even under kMutex's lock: a thread
// cache parks without that lock, and only one of two racing frees of the
// same block may win. Atomic = false is the plain check of kNone, and of
// park_unchecked_races(), whose caller gave up on that race.
template <ThreadSafety Mode>
template <bool Atomic>
[[gnu::always_inline]] inline Status FixedPool<Mode>::claim(void* ptr, std::uint8_t kind,
                                                            std::uint32_t* index) noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  const auto* entry = find(*snapshot_.load(std::memory_order_acquire), address);
  if (entry == nullptr) [[unlikely]] return refuse(ptr);
  const std::size_t offset = address - entry->base;
  const std::size_t slot = by_stride_.divide(offset);
  if (slot * stride_ != offset) [[unlikely]] return refuse(ptr);
  auto& state = state_of(chunks_[entry->chunk], static_cast<std::uint32_t>(slot));
  std::uint8_t expected = mark(entry->generation, kAllocated);
  if constexpr (Atomic) {
    if (!state.compare_exchange_strong(expected, mark(entry->generation, kind), std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) [[unlikely]] {
      return refuse(ptr);
    }
  } else {
    if (state.load(std::memory_order_relaxed) != expected) [[unlikely]] return refuse(ptr);
    state.store(mark(entry->generation, kind), std::memory_order_relaxed);
  }
  *index = static_cast<std::uint32_t>(std::size_t{entry->chunk} << chunk_shift_ | slot);
  return Status::kOk;
}

// The block is off the stack (or parked by the caller), so trim() cannot
// release its chunk under us.
template <ThreadSafety Mode>
[[gnu::always_inline]] inline void* FixedPool<Mode>::hand_out(std::uint32_t index, std::uint8_t kind) noexcept {
  const Chunk& chunk = chunks_[index >> chunk_shift_];
  const std::uint32_t slot = index & slot_mask_;
  state_of(chunk, slot).store(mark(chunk.generation, kind), std::memory_order_relaxed);
  return reinterpret_cast<void*>(chunk.base + slot * stride_);
}

template <ThreadSafety Mode>
inline Status FixedPool<Mode>::park(void* ptr, std::uint32_t* index) noexcept {
  return claim(ptr, kParked, index);
}

template <ThreadSafety Mode>
inline Status FixedPool<Mode>::park_unchecked_races(void* ptr, std::uint32_t* index) noexcept {
  return claim<false>(ptr, kParked, index);
}

template <ThreadSafety Mode>
inline void* FixedPool<Mode>::unpark(std::uint32_t index) noexcept {
  return hand_out(index, kAllocated);
}

extern template class FixedPool<ThreadSafety::kNone>;
extern template class FixedPool<ThreadSafety::kMutex>;
extern template class FixedPool<ThreadSafety::kLockFree>;

static_assert(PoolAlgorithm<FixedPool<ThreadSafety::kNone>>);
static_assert(PoolAlgorithm<FixedPool<ThreadSafety::kMutex>>);
static_assert(PoolAlgorithm<FixedPool<ThreadSafety::kLockFree>>);

}  // namespace nativepool
