// SPDX-License-Identifier: Apache-2.0
/// @file variable_pool.hpp
/// @brief VariablePool: blocks of any size and alignment, carved from large
/// arenas with the TLSF (two-level segregated fit) algorithm.
///
/// Allocation and free are O(1): free blocks sit in size-class lists indexed
/// by two bitmaps, so finding a fitting class is two count-trailing-zeros;
/// freed blocks merge at once with their free physical neighbours. Small
/// sizes come from slabs of equal blocks carved from the same arenas
/// (slab_classes.hpp). All block
/// metadata lives in host-side nodes, never in the managed memory, so the
/// same pool manages device memory the CPU cannot touch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "nativepool/address_map.hpp"
#include "nativepool/backend.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/slab_classes.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// How a VariablePool reserves memory from its backend.
struct VariablePoolConfig {
  /// Bytes reserved per growth step; a positive multiple of the granularity.
  /// Larger requests get a dedicated arena of their own size.
  std::size_t arena_size = std::size_t{64} << 20;
  /// Power of two: the minimum block size and the default alignment. Every
  /// block size is rounded up to it (device pools use 256).
  std::size_t granularity = 16;
  /// Reserved at construction, in whole arenas (the last one capped by max);
  /// more than a non-zero max_bytes is refused.
  std::size_t initial_bytes = 0;
  /// Upper bound on the bytes reserved from the backend; 0 means unbounded.
  std::size_t max_bytes = 0;
  /// Requests up to this many bytes (at most 4096; the largest class not
  /// above it) come from size-class slabs carved from the arenas
  /// (slab_classes.hpp): a bit or a byte of metadata per block instead of
  /// TLSF's 40-46 bytes. Above 1 KiB a request's block is its class's size
  /// (eight classes to a doubling). 0, arenas under 1 MiB or a granularity
  /// under 16: every size from TLSF, rounded to the granularity.
  std::size_t slab_limit = 4096;
  /// Blocks per size class that make_variable_pool lets each thread cache
  /// in front of a kMutex pool without a maximum at SafetyLevel OFF
  /// (variable_thread_cache.hpp); 0 = no caches. The pool itself only learns
  /// from it that threads will park slab blocks without its lock, so that a
  /// free claims each block first (one compare-and-swap more per small free).
  std::size_t thread_cache_blocks = 64;
  /// Independent shards (sharded_variable_pool.hpp) the threads of a pool
  /// with thread caches are spread over: 0 = one per hardware thread, 1 = a
  /// single shard; at most ShardedVariablePool::kMaxShards. Other pools have
  /// one.
  std::size_t shards = 0;
};

namespace detail {

/// The TLSF algorithm itself, shared by every VariablePool mode so that it is
/// compiled once. Not thread-safe: VariablePool adds the locking.
class Tlsf {
 public:
  Tlsf(const VariablePoolConfig& config, std::shared_ptr<Backend> backend) noexcept;
  ~Tlsf();
  Tlsf(const Tlsf&) = delete;
  Tlsf& operator=(const Tlsf&) = delete;

  /// kInvalidArgument with a detail if @p config or @p backend is unusable.
  [[nodiscard]] static Status check_config(const VariablePoolConfig& config, const Backend* backend) noexcept;
  /// Reserves config.initial_bytes; called once, right after construction.
  [[nodiscard]] Status reserve_initial() noexcept;

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept;
  [[nodiscard]] Status deallocate(void* ptr, std::size_t* freed_size) noexcept;
  std::size_t trim() noexcept;
  /// No page is smaller: a free range below this holds no whole page.
  static constexpr std::size_t kSmallestPage = 4096;
  /// Gives the whole pages inside [@p start, @p start + @p size), free
  /// bytes of a live block (a slab's free blocks), back to the system where
  /// the backend can, counting them in pages_released().
  void release_pages(std::uintptr_t start, std::size_t size) noexcept {
    pages_released_ += backend_->release_pages(reinterpret_cast<void*>(start), size);
  }
  [[nodiscard]] std::size_t pages_released() const noexcept { return pages_released_; }
  [[nodiscard]] Status validate() const noexcept;
  [[nodiscard]] Fragmentation fragmentation() const noexcept;
  [[nodiscard]] Reservation reservation() const noexcept;
  /// The most runs snapshot() may add: one per block node.
  [[nodiscard]] std::size_t snapshot_runs() const noexcept;
  /// Adds every arena and its blocks to @p out, each slab of @p slabs as
  /// its blocks; @p out must have room for reservation().regions regions and
  /// snapshot_runs() + slabs.snapshot_runs() runs.
  void snapshot(const SlabClasses& slabs, MemorySnapshot* out) const noexcept;
  [[nodiscard]] std::size_t block_size(const void* ptr) const noexcept;
  /// Whether @p ptr lies in a free block. O(blocks): for diagnoses only.
  [[nodiscard]] bool in_free_space(const void* ptr) const noexcept;
  [[nodiscard]] std::size_t granularity() const noexcept { return granularity_; }
  [[nodiscard]] const Backend& backend() const noexcept { return *backend_; }

 private:
  struct Arena;
  // A node's place in nodes_; 0 is no node.
  using Index = std::uint32_t;
  // One node per block, free or allocated, and one per arena that heads its
  // list of blocks. Half a cache line: 32-bit links, and the size, class
  // and flag in one word. With the address map's five-byte slots a live
  // block's metadata costs 40-46 bytes (the 64-byte node with 64-bit links
  // and a map that stored keys cost 97-117).
  struct Block {
    std::uintptr_t address;
    std::uint64_t size : 48;  // bytes; no arena is larger (kMaxArenaBytes)
    // Size class of the list a free block is in (its own class or the one
    // below, see resize_free), kept so that unlinking it need not recompute
    // it.
    std::uint64_t size_class : 15;
    std::uint64_t free : 1;
    Index prev_phys;  // neighbours in address order; an arena's head comes first
    Index next_phys;
    Index prev_free;  // size-class list; next_free also links spare nodes
    Index next_free;
  };
  static_assert(sizeof(Block) == 32, "two nodes per cache line");
  // Stores into Block::size are masked with it, which shows the compiler
  // that they fit (no arena reaches 2^48 bytes) and costs one and.
  static constexpr std::uint64_t kSizeMask = (std::uint64_t{1} << 48) - 1;
  struct Arena {
    std::uintptr_t base;
    std::size_t size;
    // A node of size 0 before the arena's first block: every block has a
    // previous neighbour, which is never free, so merges and unlinks need
    // not ask which arena a block is in.
    Index head;
    Arena* prev;
    Arena* next;
  };
  // The address map stores node indices, and reads a candidate's key from
  // its node.
  struct KeyOfNode {
    Block* const* nodes;
    std::uintptr_t operator()(Index node) const noexcept { return (*nodes)[node].address; }
  };

  // Second level: 32 classes per power of two, so a block's class bounds its
  // size within ~3%. Sizes below 32 granules get one exact class each. A
  // class is one flat index: first level in the high bits, second level in
  // the low kSlBits.
  static constexpr unsigned kSlBits = 5;
  static constexpr unsigned kSlCount = 1U << kSlBits;
  static constexpr unsigned kFlCount = 64 - kSlBits + 1;
  static unsigned size_class(std::size_t units) noexcept;

  Status add_arena(std::size_t size, Index* block) noexcept;
  Status refill(std::size_t size, std::size_t rounded, std::size_t align, Index* block) noexcept;
  [[nodiscard]] Index find_exact(std::size_t rounded, std::size_t search, std::size_t align) const noexcept;
  // The fast path's steps, each called from a few places: compilers keep
  // them out of line by their own measure, and the calls, spills and
  // reloads then cost more than the steps themselves.
  [[nodiscard, gnu::always_inline]] inline Index find_free(std::size_t units) const noexcept;
  [[gnu::always_inline]] inline void insert_free(Index block) noexcept;
  [[gnu::always_inline]] inline void remove_free(Index block) noexcept;
  [[gnu::always_inline]] inline void resize_free(Index block, std::size_t size) noexcept;
  [[gnu::always_inline]] inline Index carve_front(Index block, std::size_t size) noexcept;
  void unlink_phys(Index block) noexcept;
  // Node storage only grows in reserve_nodes(), which moves it: references
  // into it are taken after that, and never kept across it.
  [[nodiscard]] Block& at(Index node) const noexcept { return nodes_[node]; }
  [[nodiscard]] bool reserve_nodes(std::size_t count) noexcept;
  bool grow_nodes() noexcept;
  Index take_node() noexcept;
  void release_node(Index node) noexcept;
  void release_arena(Arena* arena) noexcept;
  Status bad_request(std::size_t size, std::size_t alignment) const noexcept;
  [[nodiscard]] const Block* block_containing(std::uintptr_t address) const noexcept;
  Status bad_free(const void* ptr) const noexcept;
  Status out_of_memory(std::size_t size, std::size_t align, const char* reason) const noexcept;
  [[nodiscard]] std::size_t largest_free() const noexcept;
  [[nodiscard]] Status validate_lists(std::uint64_t* listed, std::size_t* listed_blocks,
                                      std::size_t* listed_bytes) const noexcept;

  std::shared_ptr<Backend> backend_;
  std::size_t arena_size_;
  std::size_t granularity_;
  unsigned granularity_shift_;
  std::size_t arena_alignment_;
  std::size_t initial_bytes_;
  std::size_t max_bytes_;

  std::uint64_t fl_bitmap_ = 0;
  std::uint32_t sl_bitmap_[kFlCount] = {};
  Index heads_[kFlCount * kSlCount] = {};
  std::size_t free_bytes_ = 0;
  std::size_t free_blocks_ = 0;

  // Every node, in one mapping that grows by mremap (variable_pool.cpp).
  Block* nodes_ = nullptr;
  std::size_t node_capacity_ = 0;
  std::size_t nodes_used_ = 1;  // index 0 is no node
  Index spare_nodes_ = 0;       // released nodes, linked by next_free
  std::size_t spare_count_ = 0;

  AddressMap<KeyOfNode> live_{KeyOfNode{&nodes_}};
  Arena* arenas_ = nullptr;
  std::size_t reserved_ = 0;
  std::size_t peak_reserved_ = 0;
  std::size_t pages_released_ = 0;  // by trim(), inside arenas it kept
  std::size_t regions_ = 0;
};

}  // namespace detail

/// A pool of variable-size blocks (TLSF) over arenas from a Backend.
///
/// @tparam Mode ThreadSafety::kNone (no synchronisation) or kMutex (a mutex
/// around every operation). kLockFree is refused by create(): TLSF updates
/// several lists at once and has no lock-free form; fixed pools offer one.
///
/// Every error is detected and reported (with a detail, see error_detail())
/// without changing the pool: bad sizes and alignments, frees of foreign,
/// interior or already free pointers, and exhaustion.
/// Cache-line aligned, and so padded to whole lines: the shards of a
/// ShardedVariablePool sit side by side in the heap, and one shard's lock
/// must not share a line with its neighbour's counters.
template <ThreadSafety Mode>
class alignas(64) VariablePool {
 public:
  static constexpr bool kConcurrent = Mode != ThreadSafety::kNone;

  /// Builds a pool and reserves config.initial_bytes. kInvalidArgument for a
  /// bad config, a null backend or @p out, or Mode kLockFree;
  /// kOutOfPoolMemory if the initial reservation fails.
  [[nodiscard]] static Status create(const VariablePoolConfig& config, std::shared_ptr<Backend> backend,
                                     std::unique_ptr<VariablePool>* out) noexcept;

  /// Returns every arena to the backend, whether or not blocks are live.
  ~VariablePool() = default;
  VariablePool(const VariablePool&) = delete;
  VariablePool& operator=(const VariablePool&) = delete;

  /// Hands out a block of at least @p size (>= 1) bytes aligned to
  /// @p alignment (a power of two; 0 or less than the granularity means the
  /// granularity). The block is exactly counted_size(size) bytes. Grows by
  /// one arena when nothing fits, within max_bytes.
  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept;

  /// Frees a block from allocate() and stores its size in @p freed_size (if
  /// not null). kInvalidFree for pointers that are not a block start,
  /// kDoubleFree for pointers into free space; the pool is then unchanged.
  [[nodiscard]] Status deallocate(void* ptr, std::size_t* freed_size) noexcept;

  /// The size of the block allocate(@p size, ...) hands out: @p size rounded
  /// up to the granularity, and above 1 KiB up to the slabs' size class
  /// (meaningful for sizes allocate() accepts).
  [[nodiscard]] std::size_t counted_size(std::size_t size) const noexcept {
    return (slabs_.class_rounded(size) + granularity_ - 1) & ~(granularity_ - 1);
  }

  /// Returns every wholly free arena to the backend, then gives the whole
  /// pages inside the free blocks left (TLSF's, and runs of free blocks in
  /// the slabs) back to the system where the backend
  /// can (Backend::release_pages: the host and NUMA backends, not pinned,
  /// device, file-backed or poisoned memory), keeping them reserved. Returns
  /// the bytes of the arenas released; pages_released() counts the others.
  std::size_t trim() noexcept;
  /// Bytes handed back to the system by trim() inside reserved arenas, in
  /// all (a page released twice counts twice).
  [[nodiscard]] std::size_t pages_released() const noexcept;

  /// Checks every invariant (arena tiling, links, coalescing, size-class
  /// lists and bitmaps, address map, totals); kCorrupted naming the first
  /// violation.
  [[nodiscard]] Status validate() const noexcept;

  /// Free bytes, free blocks, largest free block and external fragmentation.
  [[nodiscard]] Fragmentation fragmentation() const noexcept;

  /// Bytes and arenas currently reserved from the backend, and the peak.
  [[nodiscard]] Reservation reservation() const noexcept;

  /// Every arena in address order with its blocks, free and live, as runs
  /// (free blocks never touch, so each is a hole of its own). Holds the lock
  /// for one walk of the block nodes, a few milliseconds per million blocks;
  /// kInternal when out of host memory.
  [[nodiscard]] Status snapshot(MemorySnapshot* out) const noexcept;

  /// Size of the live block starting at @p ptr, or 0 if there is none.
  [[nodiscard]] std::size_t block_size(const void* ptr) const noexcept;

  [[nodiscard]] std::size_t granularity() const noexcept { return granularity_; }
  [[nodiscard]] const Backend& backend() const noexcept { return core_.backend(); }

  /// @name Parking, for the thread caches of variable_thread_cache.hpp
  /// A parked block is a slab block out of the pool but in no user's hands,
  /// named by a handle. Parking and unparking take no lock; a second free
  /// of a parked block is refused (kDoubleFree) by the park and by
  /// deallocate(). Only for a pool created with a non-zero
  /// thread_cache_blocks.
  /// @{
  /// Whether a pool of @p config has size classes (cache_classes() != 0).
  [[nodiscard]] static constexpr bool has_classes(const VariablePoolConfig& config) noexcept {
    return detail::SlabClasses::serve_any(config.granularity, config.arena_size, config.slab_limit);
  }
  /// The number of size classes; 0 when slabs are off.
  [[nodiscard]] std::size_t cache_classes() const noexcept { return slabs_.classes(); }
  /// Whether a request belongs to a size class, which then goes in @p cls.
  [[nodiscard]] bool cache_class(std::size_t size, std::size_t alignment, std::size_t* cls) const noexcept {
    if (!slabs_.serves(size, alignment)) return false;
    *cls = slabs_.class_index(size);
    return true;
  }
  [[nodiscard]] std::size_t class_size(std::size_t cls) const noexcept { return slabs_.class_size(cls); }
  /// Parks @p ptr if it is an allocated slab block; false for anything
  /// else, which deallocate() then judges.
  [[nodiscard]] bool park(const void* ptr, std::uint64_t* handle, std::size_t* cls) noexcept {
    return slabs_.park(ptr, handle, cls);
  }
  /// Hands out a parked block of class @p cls; by the cache that holds it.
  [[nodiscard]] void* unpark(std::uint64_t handle, std::size_t cls) noexcept { return slabs_.unpark(handle, cls); }
  /// Up to @p max free blocks of class @p cls parked into @p out, under one
  /// lock hold; how many (0: the pool cannot grow).
  [[nodiscard]] std::size_t take_parked(std::size_t cls, std::uint64_t* out, std::size_t max) noexcept;
  /// Frees @p count parked blocks under one lock hold.
  void release_parked(const std::uint64_t* handles, std::size_t count) noexcept;
  /// validate(), and that exactly @p parked blocks are parked. Quiescent.
  [[nodiscard]] Status validate_parked(std::size_t parked) const noexcept;
  /// Slab blocks claimed as parked now; quiescent.
  [[nodiscard]] std::size_t parked_blocks() const noexcept;
  /// The base of the slab a parked block's @p handle names.
  [[nodiscard]] static std::uintptr_t parked_slab(std::uint64_t handle) noexcept {
    return detail::SlabClasses::slab_base(handle);
  }
  /// @}

 private:
  VariablePool(const VariablePoolConfig& config, std::shared_ptr<Backend> backend) noexcept
      : granularity_(config.granularity),
        core_(config, std::move(backend)),
        slabs_(config.granularity, config.arena_size, config.slab_limit,
               Mode != ThreadSafety::kNone && config.thread_cache_blocks != 0) {}

  // Immutable copy, so counted_size() needs neither the lock nor a call.
  const std::size_t granularity_;
  [[no_unique_address]] mutable LockFor<Mode> lock_;
  detail::Tlsf core_;
  // Declared after core_: its slabs are core_'s blocks.
  detail::SlabClasses slabs_;
};

template <ThreadSafety Mode>
Status VariablePool<Mode>::create(const VariablePoolConfig& config, std::shared_ptr<Backend> backend,
                                  std::unique_ptr<VariablePool>* out) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    return fail(Status::kInvalidArgument, "variable pools support NONE and MUTEX; use a fixed pool for LOCK_FREE");
  } else {
    if (out == nullptr) return fail(Status::kInvalidArgument, "variable pool: out is null");
    const Status config_status = detail::Tlsf::check_config(config, backend.get());
    if (config_status != Status::kOk) return config_status;
    if (Status status = detail::SlabClasses::check_limit(config.slab_limit); status != Status::kOk) return status;
    std::unique_ptr<VariablePool> pool(new (std::nothrow) VariablePool(config, std::move(backend)));
    if (pool == nullptr) return fail(Status::kInternal, "variable pool: out of host memory for the pool");
    const Status initial_status = pool->core_.reserve_initial();
    if (initial_status != Status::kOk) return initial_status;
    *out = std::move(pool);
    return Status::kOk;
  }
}

extern template class VariablePool<ThreadSafety::kNone>;
extern template class VariablePool<ThreadSafety::kMutex>;

}  // namespace nativepool
