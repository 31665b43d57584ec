// SPDX-License-Identifier: Apache-2.0
// PersistentHeap's recovery, on open: a committed redo log replayed, the
// undo log's current generation rolled back (abort() rolls back the same
// way), what both overwrite kept so that a refusal puts it back, and the
// live blocks and free extents rebuilt from the table.
#include "nativepool/persistent_heap.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "persistent_format.hpp"

namespace nativepool {
using namespace persistent_format;

Status PersistentHeap::recover() noexcept {
  auto& log = *reinterpret_cast<RedoLog*>(base_ + kRedoOffset);
  if (log.sequence != log.applied && log.count <= kRedoEntries && log.checksum == redo_checksum(log)) {
    for (std::size_t i = 0; i < log.count; ++i) {
      const std::uint64_t target = log.entries[i][0];
      if (target % 8 != 0 || target < kRootsOffset || target > size_ - 8) {
        return fail(Status::kCorrupted, "redo entry %zu targets offset %" PRIu64 " outside the heap", i, target);
      }
    }
    for (std::size_t i = 0; i < log.count; ++i) keep_for_refusal(log.entries[i][0], 8);
    replay_redo();
    keep_for_refusal(kRedoOffset, sizeof log.sequence * 4);
    log.applied = log.sequence;
    media_.persist(kRedoOffset, sizeof log.sequence * 4);
    recovered_redo_ = 1;
  }
  redo_sequence_ = std::max(log.sequence, log.applied);
  recovered_undo_ = roll_back_undo();
  return check_table();
}

void PersistentHeap::replay_redo() noexcept {
  auto& log = *reinterpret_cast<RedoLog*>(base_ + kRedoOffset);
  for (std::size_t i = 0; i < log.count; ++i) {
    word(log.entries[i][0]) = log.entries[i][1];
    media_.flush(log.entries[i][0], 8);
  }
  media_.drain();
}

// Restores, newest first, every intact record of the current generation,
// then retires the generation. Returns the ranges restored.
std::uint64_t PersistentHeap::roll_back_undo() noexcept {
  std::uint64_t& generation = word(undo_offset_);
  undo_positions_.clear();  // reserved in load(): never allocates
  for (std::uint64_t at = kUndoFirstRecord; at + sizeof(UndoRecord) <= undo_bytes_;) {
    const auto& record = *reinterpret_cast<const UndoRecord*>(base_ + undo_offset_ + at);
    if (record.generation != generation || record.length == 0 ||
        undo_record_bytes(record.length) > undo_bytes_ - at || record.offset < kRootsOffset ||
        record.offset >= size_ || record.length > size_ - record.offset ||
        record.checksum != record_checksum(record, base_ + undo_offset_ + at + sizeof(UndoRecord))) {
      break;  // torn, stale (an older generation) or never written
    }
    undo_positions_.push_back(at);
    at += undo_record_bytes(record.length);
  }
  if (undo_positions_.empty()) return 0;
  for (std::size_t i = undo_positions_.size(); i-- > 0;) {
    const std::uint64_t at = undo_offset_ + undo_positions_[i];
    const auto& record = *reinterpret_cast<const UndoRecord*>(base_ + at);
    keep_for_refusal(record.offset, record.length);
    std::memcpy(base_ + record.offset, base_ + at + sizeof(UndoRecord), record.length);
    media_.flush(record.offset, record.length);
  }
  media_.drain();
  keep_for_refusal(undo_offset_, 8);
  ++generation;
  media_.persist(undo_offset_, 8);
  return undo_positions_.size();
}

// Open only: saves the bytes recovery is about to overwrite (into room
// load() reserved), newest last.
void PersistentHeap::keep_for_refusal(std::uint64_t offset, std::uint64_t length) noexcept {
  if (!opening_) return;
  recovery_ranges_.push_back({offset, length});
  recovery_bytes_.insert(recovery_bytes_.end(), base_ + offset, base_ + offset + length);
}

// Writes the saved bytes back, newest first, so that each range gets what
// it held before its first write. Each is persisted before the next: the
// words that retired a log come back first, so a power loss in between
// leaves that log live and the next open recovers the same way.
void PersistentHeap::undo_recovery() noexcept {
  std::size_t end = recovery_bytes_.size();
  for (std::size_t i = recovery_ranges_.size(); i-- > 0;) {
    const Undo& range = recovery_ranges_[i];
    end -= range.length;
    std::memcpy(base_ + range.offset, recovery_bytes_.data() + end, range.length);
    media_.persist(range.offset, range.length);
  }
}

// Segments never touch (a table sits between two), so no free extent spans
// two of them.
Status PersistentHeap::rebuild() noexcept {
  try {
    for (std::size_t k = 0; k < segment_count_; ++k) {
      const Segment& segment = segments_[k];
      const std::uint64_t* table = &word(segment.table_offset);
      std::uint64_t free_start = 0;
      std::uint64_t free_units = 0;
      for (std::uint64_t unit = 0; unit < segment.units;) {
        const std::uint64_t entry = table[unit];
        if (entry == 0) {
          if (free_units == 0) free_start = unit;
          ++free_units;
          ++unit;
          continue;
        }
        if (free_units != 0) {
          if (Status status = stock(); status != Status::kOk) return status;
          give_extent(segment.heap_offset + free_start * kUnit, free_units);
        }
        free_units = 0;
        const std::uint64_t size = entry >> 24;
        live_.emplace_hint(live_.end(), segment.heap_offset + unit * kUnit, size);
        units_in_use_ += units_for(size);
        bytes_in_use_ += size;
        unit += units_for(size);
      }
      if (free_units != 0) {
        if (Status status = stock(); status != Status::kOk) return status;
        give_extent(segment.heap_offset + free_start * kUnit, free_units);
      }
    }
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "persistent heap: out of host memory for the free lists");
  }
  return Status::kOk;
}

}  // namespace nativepool
