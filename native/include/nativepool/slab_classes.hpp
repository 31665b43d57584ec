// SPDX-License-Identifier: Apache-2.0
/// @file slab_classes.hpp
/// @brief SlabClasses: the small sizes of a VariablePool, served from runs of
/// equal blocks (slabs) carved from its TLSF arenas.
///
/// TLSF keeps a 32-byte node and an address-map slot per block, 40-46 bytes
/// of host memory: more than a 16-byte block itself. Blocks up to 4 KiB come
/// instead from slabs of kSlabBytes, each carved from TLSF as one block
/// aligned to its own size and cut into blocks of one size class. A slab's
/// record, outside the managed memory like all metadata, is a bitmap of its
/// free blocks (one bit per block) and a few words, and with thread caches
/// a claim byte per block (below): measured by resident memory, 1.2 bytes
/// per 16-byte block, 3 per 1 KiB block and 9 per 4 KiB block. A free
/// finds its slab by masking the address and one lookup in the slab
/// directory, so it costs about what a TLSF free costs, and merges nothing.
///
/// Up to kFineLimit every multiple of the granularity is a class of its
/// own; above it, kClassesPerDoubling classes to a doubling, a request
/// getting its class's block. The pool serves such a request at its class's
/// size from TLSF too (class_rounded()), so a block is exactly
/// counted_size() bytes and the statistics stay exact in what the pool
/// hands out. A block's alignment is the largest power of two dividing its
/// size: a request for a stricter alignment goes to TLSF, as does a request
/// the carve of a new slab cannot serve (a pool at its maximum, a refusing
/// backend), so slabs never make a request fail that TLSF would serve.
///
/// An emptied slab goes back to TLSF, except one per class, which the class
/// keeps for its next allocation: a class whose only live block comes and
/// goes would otherwise pay a carve and a merge each time. So a class holds
/// at most one slab (64 KiB) while it has no live block, and trim() gives
/// those back before it returns the arenas.
///
/// VariablePool calls it under the same lock as TLSF, except for parking:
/// the thread caches of a shared pool (variable_thread_cache.hpp) park and
/// unpark blocks without the lock. A slab record then carries a claim byte
/// per block: a parked block is allocated as the slab sees it and claimed,
/// and every way out of "allocated" (a park, the locked free) first claims
/// the block with one compare-and-swap of its byte, so that of two frees of
/// one block only one wins, whichever paths they take. A take of a free
/// block (a refill, an allocation under the lock) claims it too before it
/// clears the free bit, waiting out a park that claimed the free block first
/// (a double free, which lets go once it reads the bit): else that park
/// could read the bit cleared and cache a block the taker holds. Only the cache that
/// holds a parked block writes its byte, so unparking is a plain store. A
/// byte rather than a bit for that: clearing a bit in a word that other
/// threads' blocks share takes an atomic and, so a cached pair paid two
/// locked instructions where it now pays one, for a byte per block where
/// it was a bit. Slabs are found through a SlabDirectory, readable without
/// the lock, and a slab's record is never freed while the pool lives (an
/// emptied slab's record waits in its class for the next slab), so a stale
/// lookup reads valid memory.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "nativepool/math.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/slab_directory.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/status.hpp"

namespace nativepool::detail {

class Tlsf;

class SlabClasses {
 public:
  /// Bytes per slab, and their alignment: the mask that finds a block's slab.
  static constexpr std::size_t kSlabBytes = std::size_t{64} << 10;
  /// Up to this size every multiple of the granularity is a class.
  static constexpr std::size_t kFineLimit = 1024;
  /// Above kFineLimit, classes this many to a doubling of the size (a
  /// block then wastes under an eighth of itself, as with mimalloc's bins).
  static constexpr std::size_t kClassesPerDoubling = 8;
  /// The largest limit: every slab then holds at least 16 blocks.
  static constexpr std::size_t kMaxLimit = 4096;
  /// Finer granularities would need more classes than they are worth.
  static constexpr std::size_t kMinGranularity = 16;

  /// Arenas smaller than this serve every size from TLSF: a slab would take
  /// a sixteenth of one or more.
  static constexpr std::size_t kMinArenaSize = 16 * kSlabBytes;

  /// Classes for every multiple of @p granularity up to @p limit (checked
  /// by check_limit); none when @p arena_size is below kMinArenaSize or the
  /// granularity below kMinGranularity. @p parking: thread caches will park
  /// blocks, so frees claim each block first.
  SlabClasses(std::size_t granularity, std::size_t arena_size, std::size_t limit, bool parking) noexcept;
  /// Whether slabs of these settings serve any size at all.
  [[nodiscard]] static constexpr bool serve_any(std::size_t granularity, std::size_t arena_size,
                                                std::size_t limit) noexcept {
    return arena_size >= kMinArenaSize && granularity >= kMinGranularity && limit >= granularity;
  }
  /// kInvalidArgument for a limit above kMaxLimit.
  [[nodiscard]] static Status check_limit(std::size_t limit) noexcept;
  /// Frees the records; the slabs' memory goes back with the TLSF arenas.
  ~SlabClasses();
  SlabClasses(const SlabClasses&) = delete;
  SlabClasses& operator=(const SlabClasses&) = delete;

  /// Whether a request of @p size bytes aligned to @p alignment (as
  /// allocate() takes them) belongs to a class.
  [[nodiscard]] bool serves(std::size_t size, std::size_t alignment) const noexcept {
    return size - 1 < limit_ && (alignment & (alignment - 1)) == 0 &&
           alignment <= natural_alignment(classes_[class_of(size)].size);
  }
  /// The block size a request of @p size bytes gets from its class: @p size
  /// rounded up to the granularity up to kFineLimit, to the next class
  /// above; @p size itself above the limit. TLSF serves a class's request
  /// it takes over at this size too, so a block's size depends on the
  /// request's size alone.
  [[nodiscard]] std::size_t class_rounded(std::size_t size) const noexcept {
    return size - 1 < limit_ ? classes_[class_of(size)].size : size;
  }
  /// Hands out a block of a request serves() accepts, carving a new slab
  /// from @p tlsf when the class has no free block; false (nothing changed)
  /// when the carve fails.
  [[nodiscard]] bool allocate(Tlsf& tlsf, std::size_t size, void** out) noexcept;

  /// The record of one slab; its bitmap (1 = free) follows it in the same
  /// allocation, sized for its class, and, in a pool whose thread caches
  /// park, its claim bytes (1 = parked, or being freed). The free bits and
  /// the base change under the lock only, through atomic stores, as parking
  /// reads them without it.
  struct Slab {
    std::uintptr_t base;
    Slab* prev;  // in its class's partial list while it has a free block,
    Slab* next;  // in its full list otherwise
    std::uint32_t free;
    std::uint32_t hint;  // no bitmap word below it has a free bit
    std::uint16_t cls;

    std::uint64_t* bits() noexcept { return reinterpret_cast<std::uint64_t*>(this + 1); }
    const std::uint64_t* bits() const noexcept { return reinterpret_cast<const std::uint64_t*>(this + 1); }
    std::uint8_t* claims(std::uint32_t words) noexcept { return reinterpret_cast<std::uint8_t*>(bits() + words); }
    const std::uint8_t* claims(std::uint32_t words) const noexcept {
      return reinterpret_cast<const std::uint8_t*>(bits() + words);
    }
  };
  /// The slab @p ptr lies in, or nullptr: then it is TLSF's to judge.
  [[nodiscard]] Slab* owner(const void* ptr) const noexcept {
    return slabs_.find(reinterpret_cast<std::uintptr_t>(ptr) & ~(kSlabBytes - 1));
  }
  /// Frees @p ptr in @p slab: kInvalidFree for an address inside a block,
  /// kDoubleFree for a free block, unchanged either way. An emptied slab
  /// goes back to @p tlsf unless its class keeps no empty slab yet.
  [[nodiscard]] Status deallocate(Tlsf& tlsf, Slab* slab, void* ptr, std::size_t* freed_size) noexcept;
  /// Gives every class's kept empty slab back to @p tlsf (for trim(), and
  /// before a bounded pool refuses a request); whether there was one.
  bool release_empty(Tlsf& tlsf) noexcept;
  /// For trim(): hands every run of free blocks of a page or more in a slab
  /// to Tlsf::release_pages, which gives the whole pages inside back to the
  /// system (a parked block is allocated as the slab sees it: it stays).
  void release_free_pages(Tlsf& tlsf) const noexcept;

  /// Whether @p ptr was a block start in one of the last kRemembered slabs
  /// that went back to TLSF: freeing it now, if TLSF has not reused the
  /// space, is a double free.
  [[nodiscard]] bool was_block(const void* ptr) const noexcept;

  /// @name Parking, without the pool's lock (thread caches)
  /// A parked block is a packed (record, index) handle.
  /// @{
  /// The class of a request serves() accepts.
  [[nodiscard]] std::size_t class_index(std::size_t size) const noexcept { return class_of(size); }
  [[nodiscard]] std::size_t class_size(std::size_t cls) const noexcept { return classes_[cls].size; }
  [[nodiscard]] std::size_t classes() const noexcept { return count_; }
  /// Claims @p ptr, an allocated slab block, as parked: its handle and class
  /// in @p handle and @p cls. False, changing nothing, for anything else (a
  /// TLSF block, a bad or free address, a block parked already): the locked
  /// free then judges it.
  [[nodiscard]] bool park(const void* ptr, std::uint64_t* handle, std::size_t* cls) noexcept;
  /// Hands out a block of class @p cls that park() or take_parked()
  /// claimed: a plain store, by the only thread that may write a parked
  /// block's claim, the one whose cache holds it.
  [[nodiscard]] void* unpark(std::uint64_t handle, std::size_t cls) noexcept {
    auto* slab = reinterpret_cast<Slab*>(handle >> kIndexBits);
    const std::size_t index = handle & kIndexMask;
    const Class& c = classes_[cls];
    std::atomic_ref<std::uint8_t>(slab->claims(c.words)[index]).store(0, std::memory_order_release);
    return reinterpret_cast<void*>(std::atomic_ref<std::uintptr_t>(slab->base).load(std::memory_order_relaxed) +
                                   index * c.size);
  }
  /// The base of the slab a parked block's @p handle names.
  [[nodiscard]] static std::uintptr_t slab_base(std::uint64_t handle) noexcept;
  /// @}
  /// Under the lock: up to @p max free blocks of class @p cls claimed as
  /// parked into @p out (carving as needed); how many, 0 if none could be.
  [[nodiscard]] std::size_t take_parked(Tlsf& tlsf, std::size_t cls, std::uint64_t* out, std::size_t max) noexcept;
  /// Under the lock: frees @p count parked blocks.
  void release_parked(Tlsf& tlsf, const std::uint64_t* handles, std::size_t count) noexcept;
  /// Blocks claimed now (parked, or in a free); quiescent.
  [[nodiscard]] std::size_t claimed() const noexcept;

  /// Size of the live block at @p ptr in @p slab, or 0.
  [[nodiscard]] std::size_t block_size(const Slab* slab, const void* ptr) const noexcept;
  /// @p tlsf's figures plus the slabs' free blocks; a slab's tail, which
  /// its class size does not divide, counts as free bytes in no block.
  [[nodiscard]] Fragmentation fragmentation(const Tlsf& tlsf) const noexcept;
  /// The runs snapshot() adds for all slabs: one per block and one per tail,
  /// an upper bound (plain neighbours merge).
  [[nodiscard]] std::size_t snapshot_runs() const noexcept;
  /// When a slab starts at @p base (a live TLSF block of kSlabBytes in the
  /// region at @p region_base), adds its blocks, live or free, and its tail
  /// as free to the current region of @p out in place of the one live block
  /// TLSF sees; false when no slab starts there.
  bool snapshot(std::uintptr_t base, std::uintptr_t region_base, MemorySnapshot* out) const noexcept;
  /// Bitmaps, counts and lists agree, and every slab is a live TLSF block
  /// of kSlabBytes. Quiescent.
  [[nodiscard]] Status validate(const Tlsf& tlsf) const noexcept;

 private:
  static constexpr std::size_t kMaxClasses =
      kFineLimit / kMinGranularity + kClassesPerDoubling * (std::bit_width(kMaxLimit / kFineLimit) - 1);
  static_assert(kMaxClasses <= 256, "class_of_ holds a class in a byte");
  // A handle is the record's address above the block index: records come
  // from operator new below 2^48 (carve() refuses one that does not).
  static constexpr unsigned kIndexBits = 16;
  static constexpr std::uint64_t kIndexMask = (std::uint64_t{1} << kIndexBits) - 1;

  static constexpr std::size_t natural_alignment(std::size_t size) noexcept {
    return size & (~size + 1);
  }
  // The class of a size in [1, limit_]: one load, from a table by the
  // size in granules.
  [[nodiscard]] std::size_t class_of(std::size_t size) const noexcept {
    return class_of_[(size - 1) >> granularity_shift_];
  }
  static std::uint64_t handle_of(const Slab* slab, std::size_t index) noexcept;
  [[gnu::noinline]] bool carve(Tlsf& tlsf, std::size_t cls) noexcept;
  // Takes the first free block of class @p cls (its slab and index),
  // carving a slab when none has one; false when the carve fails.
  [[gnu::always_inline]] inline bool take(Tlsf& tlsf, std::size_t cls, Slab** slab, std::uint32_t* index) noexcept;
  // Marks block @p index of @p slab free, keeping or releasing an emptied slab.
  void put(Tlsf& tlsf, Slab* slab, std::size_t index) noexcept;
  void release(Tlsf& tlsf, Slab* slab) noexcept;
  static void push(Slab* slab, Slab** list) noexcept;
  static void remove(Slab* slab, Slab** list) noexcept;
  static void move(Slab* slab, Slab** from, Slab** to) noexcept;
  [[gnu::noinline]] Status bad_free(const Slab* slab, const void* ptr) const noexcept;

  struct Class {
    std::size_t size = 0;
    std::uint32_t blocks = 0;  // per slab
    std::uint32_t words = 0;   // bitmap words per slab
    ExactDivider by_size{1};
    Slab* partial = nullptr;  // slabs with a free block, the most recent first
    Slab* full = nullptr;
    Slab* empty = nullptr;  // the one slab of partial kept with every block free
    Slab* spare = nullptr;  // records of released slabs, for the next carve
  };

  static constexpr std::size_t kRemembered = 64;
  struct Released {
    std::uintptr_t base = 0;
    std::size_t cls = 0;
  };

  const std::size_t granularity_;
  const unsigned granularity_shift_;
  std::size_t limit_ = 0;  // the largest class size; 0: no classes
  std::size_t count_ = 0;  // classes
  const bool parking_;
  Class classes_[kMaxClasses];
  std::uint8_t class_of_[kMaxLimit / kMinGranularity] = {};  // by (size - 1) / granularity
  SlabDirectory<Slab> slabs_;
  std::size_t free_blocks_ = 0;  // in all slabs
  std::size_t free_bytes_ = 0;   // the free blocks' bytes and the tails
  Released released_[kRemembered];  // a ring, the next to overwrite at released_next_
  std::size_t released_next_ = 0;
};

}  // namespace nativepool::detail
