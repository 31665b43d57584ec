// SPDX-License-Identifier: Apache-2.0
/// @file persistent_heap.hpp
/// @brief PersistentHeap: a crash-consistent heap in a mapped file that
/// reopens after kill -9 and power loss (docs/persistent.md).
///
/// Blocks are named by their offset in the file, stable across reopening and
/// remapping; address() turns one into a pointer valid for this mapping only.
/// The allocator's metadata lives in the file, in a table apart from the
/// payload (one checksummed word per 64-byte unit), so no user overflow can
/// reach it and the free lists are rebuilt in host memory on open.
///
/// Crash consistency comes from two logs in the file:
/// - a redo log makes allocate-and-publish and free-and-clear one atomic step
///   (the block's table entry and the referencing word change together), so a
///   crash never leaks a block nor leaves a dangling offset;
/// - an undo log makes a transaction atomic: snapshot() saves a range before
///   it is changed, allocations and frees inside roll back with it, commit is
///   one 8-byte store.
/// open() replays or rolls back whichever log is live, rebuilds the free
/// structures and validates the table before it writes anything.
///
/// The file grows (grow(), or on its own up to options.max_capacity) by
/// segments appended at its end, each with its own table: offsets never
/// move, but the file is mapped anew, so addresses taken before a grow
/// belong to the old mapping (which stays mapped, on the same bytes, until
/// the heap closes).
///
/// Thread-safe: a mutex serialises every call; one transaction at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "nativepool/persistent_media.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/status.hpp"

namespace nativepool {

/// How create() lays out a new heap file and how the heap makes it durable.
struct PersistentOptions {
  /// File size in bytes, allocated up front (posix_fallocate), so a full disk
  /// fails here and never as SIGBUS later. Holds header, logs, table and
  /// payload; at least kMinCapacity.
  std::uint64_t capacity = 0;
  /// Bytes of the undo log, which bounds what one transaction can snapshot; a
  /// positive multiple of 4096.
  std::uint64_t undo_log_bytes = 64 << 10;
  /// Group commit: operations skip their persist points and flush() makes
  /// everything durable at once. A process crash loses nothing (the page
  /// cache survives it); a power loss before flush() makes open() refuse the
  /// file (kCorrupted) instead of returning an inconsistent heap.
  bool group_commit = false;
  /// Refuse cache-flush mode and use msync even on DAX (for comparison).
  bool force_msync = false;
  /// Auto-grow: when no free extent fits a block, the heap grows (doubling,
  /// and at least by what the block needs) up to this many bytes; 0 never
  /// grows on its own. A multiple of 4096; applies at create and open.
  std::uint64_t max_capacity = 0;
  /// Sees every flush and drain (tests); not owned, must outlive the heap.
  PersistObserver* observer = nullptr;
  /// Test double for /proc/sys/kernel/random/boot_id: a non-empty string
  /// stands in for it, so a test can simulate a reboot (group commit).
  const char* boot_id = nullptr;
};

/// What a heap holds, in user-visible sizes.
struct PersistentStats {
  std::uint64_t capacity = 0;       ///< file size (bytes the heap uses)
  std::uint64_t heap_bytes = 0;     ///< bytes blocks can use (64-byte units)
  std::uint64_t live_blocks = 0;    ///< blocks in the table
  std::uint64_t bytes_in_use = 0;   ///< their requested sizes
  std::uint64_t units_in_use = 0;   ///< their 64-byte units
  std::uint64_t free_bytes = 0;
  std::uint64_t largest_free = 0;
  std::uint64_t free_extents = 0;
  std::uint64_t allocations = 0;    ///< since this open
  std::uint64_t frees = 0;          ///< since this open
  std::uint64_t flushed_bytes = 0;  ///< bytes named to flush since this open
  std::uint64_t persist_points = 0; ///< drains since this open
  std::uint64_t recovered_redo = 0; ///< 1 when open() replayed a redo log
  std::uint64_t recovered_undo = 0; ///< ranges open() rolled back
  std::uint64_t grows = 0;          ///< segments the file gained since create
};

/// A block handed out by reserve(): in host memory only until publish(), so
/// a crash before then leaves nothing behind.
struct PersistentReservation {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

class PersistentHeap {
 public:
  /// 2: the growth record (page 0) and grown segments.
  static constexpr std::uint32_t kFormatVersion = 2;
  static constexpr std::uint64_t kUnit = 64;  ///< block granularity and alignment
  static constexpr std::size_t kRoots = 128;
  static constexpr std::uint64_t kPage = 4096;
  static constexpr std::uint64_t kMinCapacity = 64 << 10;
  /// Grows a heap's file can record; each adds a segment of at least
  /// kMinCapacity bytes.
  static constexpr std::size_t kMaxGrows = 64;

  /// Creates @p path (which must not exist) as a new, empty heap. Every
  /// failure leaves no file behind. kInvalidArgument, kOutOfPoolMemory (the
  /// disk is full), kIoError.
  [[nodiscard]] static Status create(const char* path, const PersistentOptions& options,
                                     std::unique_ptr<PersistentHeap>* out) noexcept;

  /// Opens an existing heap and recovers it. Only options.group_commit,
  /// force_msync, observer and boot_id apply. A refusal (kNotAPool,
  /// kTruncated, kVersionMismatch, kChecksumMismatch, kAlreadyOpen,
  /// kCorrupted) leaves the file byte for byte as it was: one found after
  /// recovery puts back what recovery wrote.
  [[nodiscard]] static Status open(const char* path, const PersistentOptions& options,
                                   std::unique_ptr<PersistentHeap>* out) noexcept;

  /// Flushes (group commit), unmaps, unlocks. Reservations are dropped; an
  /// open transaction is rolled back.
  ~PersistentHeap();
  PersistentHeap(const PersistentHeap&) = delete;
  PersistentHeap& operator=(const PersistentHeap&) = delete;

  /// The address of file offset @p offset in this mapping (not checked).
  /// A grow maps the file anew: take addresses again after one (the old
  /// ones still reach the same bytes until the heap closes). Not
  /// synchronised with a grow in another thread; view() is.
  [[nodiscard]] void* address(std::uint64_t offset) const noexcept { return base_ + offset; }
  /// The address of a live or reserved block at @p offset holding at least
  /// @p size bytes, in the current mapping; nullptr for anything else.
  [[nodiscard]] void* view(std::uint64_t offset, std::uint64_t size) const noexcept;
  /// The offset of @p address, which must lie in this mapping.
  [[nodiscard]] std::uint64_t offset_of(const void* address) const noexcept {
    return static_cast<std::uint64_t>(static_cast<const unsigned char*>(address) - base_);
  }
  /// Requested size of the live block at @p offset, or 0 if there is none.
  [[nodiscard]] std::uint64_t block_size(std::uint64_t offset) const noexcept;

  /// Offset of root slot @p index (an 8-byte word holding a block offset or
  /// 0), to pass as a destination; 0 for an index out of range.
  [[nodiscard]] static std::uint64_t root_slot(std::size_t index) noexcept;
  /// The block offset in root slot @p index (0: empty or out of range).
  [[nodiscard]] std::uint64_t root(std::size_t index) const noexcept;

  /// Takes a block of @p size bytes in host memory only; write it, then
  /// publish() or cancel() it. kInvalidArgument, kOutOfPoolMemory.
  [[nodiscard]] Status reserve(std::uint64_t size, PersistentReservation* out) noexcept;
  /// Persists the reserved block's bytes, then in one atomic step records it
  /// in the table and stores its offset into @p destination: a root slot or
  /// an aligned word inside a live block, which must hold 0.
  [[nodiscard]] Status publish(const PersistentReservation& reservation, std::uint64_t destination) noexcept;
  /// Gives a reservation back.
  [[nodiscard]] Status cancel(const PersistentReservation& reservation) noexcept;
  /// reserve(), zero, publish(): the zeroed block's offset in @p out.
  [[nodiscard]] Status allocate(std::uint64_t size, std::uint64_t destination, std::uint64_t* out) noexcept;
  /// Frees the block whose offset @p destination holds and zeroes that word,
  /// in one atomic step.
  [[nodiscard]] Status free(std::uint64_t destination) noexcept;

  /// Makes [@p offset, @p offset + @p length) of live block @p block durable.
  [[nodiscard]] Status persist(std::uint64_t block, std::uint64_t offset, std::uint64_t length) noexcept;
  /// Group commit: makes every operation so far durable (msync of the whole
  /// file); otherwise nothing is pending and it only checks for I/O errors.
  [[nodiscard]] Status flush() noexcept;

  /// Extends the file to @p capacity bytes (a multiple of 4096, at least
  /// kMinCapacity more than now) with a new segment of blocks: the disk space
  /// is allocated first (a full disk: kOutOfPoolMemory, file and heap
  /// unchanged), then the file is mapped anew, then one persist of the growth
  /// record commits it. A crash at any point leaves a heap that opens at the
  /// old or the new capacity. kInvalidArgument, kOutOfPoolMemory, kIoError.
  [[nodiscard]] Status grow(std::uint64_t capacity) noexcept;

  /// Starts a transaction; kInvalidArgument if one is open. While it is
  /// open, reserve/publish/allocate/free are refused.
  [[nodiscard]] Status begin() noexcept;
  /// Saves [@p offset, @p offset + @p length) of live block @p block (a root
  /// slot: block 0, offset root_slot(i), length 8) so that a rollback
  /// restores it; write the range after this returns.
  [[nodiscard]] Status snapshot(std::uint64_t block, std::uint64_t offset, std::uint64_t length) noexcept;
  /// A zeroed block that exists only if the transaction commits.
  [[nodiscard]] Status tx_allocate(std::uint64_t size, std::uint64_t* out) noexcept;
  /// Frees @p block when the transaction commits.
  [[nodiscard]] Status tx_free(std::uint64_t block) noexcept;
  /// Snapshots root slot @p index and stores @p block (0 or live) in it.
  [[nodiscard]] Status tx_set_root(std::size_t index, std::uint64_t block) noexcept;
  /// Persists every snapshotted range and new block, then commits.
  [[nodiscard]] Status commit() noexcept;
  /// Restores every snapshotted range; allocations vanish, frees are undone.
  [[nodiscard]] Status abort() noexcept;
  [[nodiscard]] bool in_transaction() const noexcept;

  /// Checks the table (entry checks, tiling), the host-side free structures
  /// against it, and the roots; kCorrupted naming the first violation.
  [[nodiscard]] Status validate() const noexcept;
  [[nodiscard]] PersistentStats stats() const noexcept;
  /// Visits every live block in offset order (offset, requested size), under
  /// the heap's lock: @p visit must not call the heap.
  template <class F>
  void for_each_block(F&& visit) const {
    std::lock_guard<std::mutex> hold(lock_);
    for (const auto& [offset, size] : live_) visit(offset, size);
  }
  /// The heap as one region (its block area, based at its address in this
  /// mapping) in runs: each live block with its requested size, each free
  /// extent, and each reservation (taken, not yet published) as a live block
  /// without one. Walks under the heap's lock into room made before it;
  /// kInternal when out of host memory (persistent_snapshot.cpp).
  [[nodiscard]] Status snapshot(MemorySnapshot* out) const noexcept;
  [[nodiscard]] Durability durability() const noexcept { return media_.durability(); }
  [[nodiscard]] bool group_commit() const noexcept { return group_commit_; }
  /// Bytes of the file the heap uses (grows change it; under the lock).
  [[nodiscard]] std::uint64_t capacity() const noexcept;
  /// How many times this heap mapped its file anew since it opened (once
  /// per grow): a caller that caches addresses takes them again on a change.
  [[nodiscard]] std::uint64_t mappings() const noexcept;

 private:
  struct Undo {
    std::uint64_t offset;
    std::uint64_t length;
  };
  // A run of units and the table that describes them: segment 0 follows
  // the undo log, each grow appends one.
  struct Segment {
    std::uint64_t table_offset;
    std::uint64_t heap_offset;
    std::uint64_t units;
    [[nodiscard]] std::uint64_t heap_end() const noexcept { return heap_offset + units * kUnit; }
  };
  struct Mapping {
    unsigned char* base;
    std::uint64_t size;
  };

  PersistentHeap(int fd, unsigned char* base, std::uint64_t size, Durability durability,
                 const PersistentOptions& options) noexcept;
  static Status open_mapped(int fd, std::uint64_t size, const PersistentOptions& options,
                            std::unique_ptr<PersistentHeap>* out) noexcept;
  Status load() noexcept;
  void add_segment(std::uint64_t start, std::uint64_t end) noexcept;
  const Segment& segment_of(std::uint64_t offset) const noexcept;
  std::uint64_t unit_index(std::uint64_t offset) const noexcept;
  Status grow_locked(std::uint64_t capacity) noexcept;
  Status grow_for(std::uint64_t units, std::uint64_t* offset) noexcept;
  Status take_or_grow(std::uint64_t units, std::uint64_t* offset) noexcept;
  void write_growth(std::uint64_t capacity) noexcept;
  Status check_table() const noexcept;
  Status recover() noexcept;
  Status rebuild() noexcept;
  void replay_redo() noexcept;
  std::uint64_t roll_back_undo() noexcept;
  void keep_for_refusal(std::uint64_t offset, std::uint64_t length) noexcept;
  void undo_recovery() noexcept;

  // Ordering: persist() at a persist point unless group commit defers it.
  void ordered(std::uint64_t offset, std::uint64_t length) noexcept;
  void ordered_drain() noexcept;
  void mark_unflushed() noexcept;
  Status io_status(const char* what) noexcept;

  using Entries = std::map<std::uint64_t, std::uint64_t>;
  using Sizes = std::set<std::pair<std::uint64_t, std::uint64_t>>;
  Status stock() noexcept;
  std::size_t tx_pending() const noexcept;
  void put(Entries& map, std::uint64_t key, std::uint64_t value) noexcept;
  void drop(Entries& map, Entries::iterator at) noexcept;
  void put_size(std::uint64_t units, std::uint64_t offset) noexcept;
  void drop_size(Sizes::iterator at) noexcept;
  Status take_extent(std::uint64_t units, std::uint64_t* offset) noexcept;
  void give_extent(std::uint64_t offset, std::uint64_t units) noexcept;
  Status check_destination(std::uint64_t destination) const noexcept;
  Status check_range(std::uint64_t block, std::uint64_t offset, std::uint64_t length) const noexcept;
  Status check_no_transaction(const char* operation) const noexcept;
  Status redo(const std::uint64_t (*words)[2], std::size_t count) noexcept;
  Status log_undo(std::uint64_t offset, std::uint64_t length) noexcept;
  void end_transaction() noexcept;
  Status reserve_locked(std::uint64_t size, PersistentReservation* out) noexcept;
  Status publish_locked(const PersistentReservation& reservation, std::uint64_t destination) noexcept;
  void abort_locked() noexcept;

  std::uint64_t& word(std::uint64_t offset) const noexcept {
    return *reinterpret_cast<std::uint64_t*>(base_ + offset);
  }
  std::uint64_t entry_offset(std::uint64_t block) const noexcept;

  int fd_;
  unsigned char* base_;
  std::uint64_t size_;
  detail::PersistentMedia media_;
  bool group_commit_;
  std::uint64_t boot_mark_;
  std::uint64_t max_capacity_;

  // Layout, read from the checked header and growth record.
  std::uint64_t undo_offset_ = 0;
  std::uint64_t undo_bytes_ = 0;
  std::array<Segment, kMaxGrows + 1> segments_{};
  std::size_t segment_count_ = 0;
  std::uint64_t growth_sequence_ = 0;
  // Mappings a grow replaced, unmapped at close (fixed: a grow allocates no
  // host memory).
  std::array<Mapping, kMaxGrows> retired_{};
  std::size_t retired_count_ = 0;

  mutable std::mutex lock_;
  Entries live_;            // offset -> requested size
  Entries free_by_offset_;  // offset -> units
  Sizes free_by_size_;      // (units, offset)
  Entries reserved_;        // offset -> units
  // Spare nodes for the four above (see stock()), keyed by a counter.
  Entries spare_entries_;
  Sizes spare_sizes_;
  std::uint64_t spare_key_ = 0;
  std::uint64_t free_units_ = 0;
  std::uint64_t units_in_use_ = 0;
  std::uint64_t bytes_in_use_ = 0;
  std::uint64_t allocations_ = 0;
  std::uint64_t frees_ = 0;
  std::uint64_t recovered_redo_ = 0;
  std::uint64_t redo_sequence_ = 0;
  std::uint64_t recovered_undo_ = 0;
  bool unflushed_ = false;

  // The open transaction.
  bool in_tx_ = false;
  std::uint64_t undo_used_ = 0;
  std::vector<Undo> undo_ranges_;
  std::vector<Undo> tx_new_blocks_;              // (offset, size) allocated in it
  std::vector<Undo> tx_freed_;                   // (offset, size) freed at commit
  std::vector<std::uint64_t> undo_positions_;    // roll_back_undo()'s records
  // While open() recovers: what it overwrote, put back if it then refuses.
  bool opening_ = false;
  std::vector<Undo> recovery_ranges_;            // (offset, length), in write order
  std::vector<unsigned char> recovery_bytes_;    // their old bytes, concatenated
};

}  // namespace nativepool
