// SPDX-License-Identifier: Apache-2.0
// How PersistentHeap's changes reach the media: ordering and persist points
// (deferred by group commit), flush(), the redo log that changes several
// words as one, and transactions on the undo log.
#include "nativepool/persistent_heap.hpp"

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "persistent_format.hpp"

namespace nativepool {
using namespace persistent_format;

// ---- durability ----

void PersistentHeap::ordered(std::uint64_t offset, std::uint64_t length) noexcept {
  if (group_commit_) {
    mark_unflushed();
  } else {
    media_.flush(offset, length);
  }
}

void PersistentHeap::ordered_drain() noexcept {
  if (!group_commit_) media_.drain();
}

// Group commit: before the first change after a flush, the header says so
// (and on which boot), durably; flush() clears it. A reopen on the same boot
// finds the page cache intact; after a restart the word tells the truth.
void PersistentHeap::mark_unflushed() noexcept {
  if (unflushed_) return;
  word(kStateOffset) = boot_mark_;
  media_.persist(kStateOffset, 8);
  unflushed_ = true;
}

Status PersistentHeap::io_status(const char* what) noexcept {
  const int error = media_.take_error();
  if (error == 0) return Status::kOk;
  return fail(Status::kIoError, "%s: msync: %s", what, std::strerror(error));
}

Status PersistentHeap::persist(std::uint64_t block, std::uint64_t offset, std::uint64_t length) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  Status status = check_range(block, offset, length);
  if (status != Status::kOk) return status;
  ordered(block + offset, length);
  ordered_drain();
  return io_status("persist");
}

Status PersistentHeap::flush() noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (unflushed_) {
    media_.persist(0, size_);
    word(kStateOffset) = 0;
    media_.persist(kStateOffset, 8);
    unflushed_ = false;
  }
  return io_status("flush");
}

// ---- the redo log: several words change as one ----

Status PersistentHeap::redo(const std::uint64_t (*words)[2], std::size_t count) noexcept {
  auto& log = *reinterpret_cast<RedoLog*>(base_ + kRedoOffset);
  std::memcpy(log.entries, words, count * sizeof words[0]);
  std::memset(log.entries + count, 0, (kRedoEntries - count) * sizeof log.entries[0]);
  log.sequence = ++redo_sequence_;
  log.count = count;
  log.checksum = redo_checksum(log);
  ordered(kRedoOffset, sizeof log);
  ordered_drain();  // committed
  for (std::size_t i = 0; i < count; ++i) {
    word(words[i][0]) = words[i][1];
    ordered(words[i][0], 8);
  }
  ordered_drain();
  log.applied = log.sequence;
  ordered(kRedoOffset + offsetof(RedoLog, applied), 8);
  ordered_drain();
  return io_status("redo log");
}

// ---- transactions: the undo log ----

bool PersistentHeap::in_transaction() const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  return in_tx_;
}

Status PersistentHeap::begin() noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (in_tx_) return fail(Status::kInvalidArgument, "a transaction is already open on this heap");
  in_tx_ = true;
  undo_used_ = 0;
  return Status::kOk;
}

// Appends a record of the current generation and makes it durable before
// the caller changes the range: the record is what a rollback restores.
Status PersistentHeap::log_undo(std::uint64_t offset, std::uint64_t length) noexcept {
  const std::uint64_t bytes = undo_record_bytes(length);
  if (bytes > undo_bytes_ - kUndoFirstRecord - undo_used_) {
    return fail(Status::kOutOfPoolMemory, "the undo log (%" PRIu64 " bytes) cannot hold %" PRIu64 " more bytes",
                undo_bytes_, length);
  }
  const std::uint64_t at = undo_offset_ + kUndoFirstRecord + undo_used_;
  auto& record = *reinterpret_cast<UndoRecord*>(base_ + at);
  record.generation = word(undo_offset_);
  record.offset = offset;
  record.length = length;
  std::memcpy(base_ + at + sizeof(UndoRecord), base_ + offset, length);
  record.checksum = record_checksum(record, base_ + at + sizeof(UndoRecord));
  ordered(at, bytes);
  ordered_drain();
  undo_used_ += bytes;
  undo_ranges_.push_back({offset, length});
  return io_status("undo log");
}

Status PersistentHeap::snapshot(std::uint64_t block, std::uint64_t offset, std::uint64_t length) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (!in_tx_) return fail(Status::kInvalidArgument, "snapshot outside a transaction");
  const Status status = check_range(block, offset, length);
  return status != Status::kOk ? status : log_undo(block + offset, length);
}

Status PersistentHeap::tx_allocate(std::uint64_t size, std::uint64_t* out) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (!in_tx_) return fail(Status::kInvalidArgument, "tx_allocate outside a transaction");
  if (out == nullptr) return fail(Status::kInvalidArgument, "tx_allocate: out is null");
  if (size == 0 || size > kMaxBlockSize) {
    return fail(Status::kInvalidArgument, "size %" PRIu64 " must be between 1 and 2^40 - 1", size);
  }
  Status status = stock();
  if (status != Status::kOk) return status;
  std::uint64_t offset = 0;
  status = take_or_grow(units_for(size), &offset);
  if (status != Status::kOk) return status;
  status = log_undo(entry_offset(offset), 8);
  if (status != Status::kOk) {
    give_extent(offset, units_for(size));
    return status;
  }
  std::memset(address(offset), 0, size);
  word(entry_offset(offset)) = encode_entry(unit_index(offset), size);
  put(live_, offset, size);
  tx_new_blocks_.push_back({offset, size});
  units_in_use_ += units_for(size);
  bytes_in_use_ += size;
  *out = offset;
  return Status::kOk;
}

Status PersistentHeap::tx_free(std::uint64_t block) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (!in_tx_) return fail(Status::kInvalidArgument, "tx_free outside a transaction");
  const auto found = live_.find(block);
  if (found == live_.end()) return fail(Status::kInvalidFree, "offset %" PRIu64 " is not a live block", block);
  Status status = stock();
  if (status == Status::kOk) status = log_undo(entry_offset(block), 8);
  if (status != Status::kOk) return status;
  word(entry_offset(block)) = 0;
  const std::uint64_t size = found->second;
  units_in_use_ -= units_for(size);
  bytes_in_use_ -= size;
  drop(live_, found);
  tx_freed_.push_back({block, size});
  return Status::kOk;
}

Status PersistentHeap::tx_set_root(std::size_t index, std::uint64_t block) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (!in_tx_) return fail(Status::kInvalidArgument, "tx_set_root outside a transaction");
  if (index >= kRoots) return fail(Status::kInvalidArgument, "root %zu: there are %zu roots", index, kRoots);
  if (block != 0 && live_.count(block) == 0) {
    return fail(Status::kInvalidArgument, "offset %" PRIu64 " is not a live block", block);
  }
  const Status status = log_undo(root_slot(index), 8);
  if (status != Status::kOk) return status;
  word(root_slot(index)) = block;
  return Status::kOk;
}

Status PersistentHeap::commit() noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (!in_tx_) return fail(Status::kInvalidArgument, "commit without a transaction");
  for (const Undo& range : undo_ranges_) ordered(range.offset, range.length);
  for (const Undo& block : tx_new_blocks_) ordered(block.offset, block.length);
  ordered_drain();
  // The commit point: one 8-byte store retires every record.
  ++word(undo_offset_);
  ordered(undo_offset_, 8);
  ordered_drain();
  for (const Undo& freed : tx_freed_) give_extent(freed.offset, units_for(freed.length));
  allocations_ += tx_new_blocks_.size();
  frees_ += tx_freed_.size();
  end_transaction();
  return io_status("commit");
}

Status PersistentHeap::abort() noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (!in_tx_) return fail(Status::kInvalidArgument, "abort without a transaction");
  abort_locked();
  return io_status("abort");
}

void PersistentHeap::abort_locked() noexcept {
  if (group_commit_) mark_unflushed();
  (void)roll_back_undo();
  for (const Undo& block : tx_new_blocks_) {
    drop(live_, live_.find(block.offset));
    units_in_use_ -= units_for(block.length);
    bytes_in_use_ -= block.length;
    give_extent(block.offset, units_for(block.length));
  }
  for (const Undo& freed : tx_freed_) {
    put(live_, freed.offset, freed.length);
    units_in_use_ += units_for(freed.length);
    bytes_in_use_ += freed.length;
  }
  end_transaction();
}

void PersistentHeap::end_transaction() noexcept {
  in_tx_ = false;
  undo_used_ = 0;
  undo_ranges_.clear();
  tx_new_blocks_.clear();
  tx_freed_.clear();
}

}  // namespace nativepool
