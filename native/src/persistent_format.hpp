// SPDX-License-Identifier: Apache-2.0
// PersistentHeap's on-file format, internal to the core (not installed): the
// layout's constants, the records in the file with their checksums, the
// table's entries and the rounding to units and pages, shared by the
// sources that read or write the heap's file.
//
// The file, page by page: header (page 0, with the group-commit word at
// kStateOffset and the growth record's two copies at kGrowthOffsets), redo
// log (page 1), roots (page 2), undo log, the table of one 8-byte entry per
// 64-byte unit, then the units themselves: segment 0. Each grow appends a
// segment, its own table then its units, so no offset ever moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nativepool/persistent_heap.hpp"

namespace nativepool::persistent_format {

inline constexpr char kMagic[8] = {'N', 'P', 'H', 'E', 'A', 'P', '\r', '\n'};
inline constexpr std::uint64_t kPage = PersistentHeap::kPage;
inline constexpr std::uint64_t kUnit = PersistentHeap::kUnit;
inline constexpr std::uint64_t kStateOffset = 1024;
inline constexpr std::uint64_t kGrowthOffsets[2] = {2048, 3072};
inline constexpr std::size_t kMaxGrows = PersistentHeap::kMaxGrows;
inline constexpr std::uint64_t kMinGrow = PersistentHeap::kMinCapacity;
inline constexpr std::uint64_t kRedoOffset = kPage;
inline constexpr std::uint64_t kRootsOffset = 2 * kPage;
inline constexpr std::uint64_t kUndoOffset = 3 * kPage;
inline constexpr std::size_t kRedoEntries = 8;
inline constexpr std::uint64_t kUndoFirstRecord = 64;  // the generation word has its own line
inline constexpr std::uint64_t kMaxBlockSize = (std::uint64_t{1} << 40) - 1;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t header_bytes;
  std::uint64_t capacity;
  std::uint64_t undo_offset;
  std::uint64_t undo_bytes;
  std::uint64_t table_offset;
  std::uint64_t heap_offset;
  std::uint64_t heap_units;
  std::uint64_t roots;
  std::uint64_t unit;
  std::uint64_t checksum;  // over everything above
};

// One persist commits the log: a torn write fails the checksum, so the log
// counts as never written. The checksum covers a sequence number that never
// repeats, and `applied` records the last sequence carried out, so an old
// log (whose checksum still matches its old entries) is never replayed over
// newer changes, however a later write of the log was torn.
struct RedoLog {
  std::uint64_t sequence;
  std::uint64_t checksum;  // over sequence, count and entries
  std::uint64_t count;
  std::uint64_t applied;
  std::uint64_t pad[4];
  std::uint64_t entries[kRedoEntries][2];  // offset, value
};

// The capacity after each grow; segment k + 1 spans [ends[k - 1] (or the
// header's capacity), ends[k]). A grow writes copy 0, then copy 1, each with
// one persist: a torn copy fails its checksum and the other stands, so a
// crash leaves the old capacity or the new one; at rest both copies agree,
// so a damaged one loses nothing.
struct Growth {
  std::uint64_t sequence;  // 0, with everything else 0: never grown
  std::uint64_t count;
  std::uint64_t checksum;  // over sequence, count and all of ends
  std::uint64_t ends[kMaxGrows];
};
static_assert(sizeof(Growth) <= kGrowthOffsets[1] - kGrowthOffsets[0], "a growth record copy fits its slot");

struct UndoRecord {
  std::uint64_t generation;
  std::uint64_t offset;
  std::uint64_t length;
  std::uint64_t checksum;  // over the three fields above and the saved bytes
};

inline std::uint64_t mix(std::uint64_t hash, std::uint64_t word) noexcept {
  hash ^= word;
  hash *= 0x9E3779B97F4A7C15ULL;
  return hash ^ (hash >> 29);
}

inline std::uint64_t checksum(const void* data, std::size_t length, std::uint64_t hash) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    hash = mix(hash, word);
  }
  std::uint64_t tail = length;
  for (; i < length; ++i) tail = (tail << 8) | bytes[i];
  return mix(hash, tail);
}

inline std::uint64_t header_checksum(const Header& header) noexcept {
  return checksum(&header, offsetof(Header, checksum), 0x6E70686561700001ULL);
}

inline std::uint64_t redo_checksum(const RedoLog& log) noexcept {
  return checksum(log.entries, sizeof log.entries, mix(mix(0x7265646F6C6F6701ULL, log.sequence), log.count));
}

inline std::uint64_t growth_checksum(const Growth& growth) noexcept {
  return checksum(growth.ends, sizeof growth.ends, mix(mix(0x67726F7774680001ULL, growth.sequence), growth.count));
}

inline std::uint64_t record_checksum(const UndoRecord& record, const unsigned char* data) noexcept {
  std::uint64_t hash = mix(mix(mix(0x756E646F6C6F6701ULL, record.generation), record.offset), record.length);
  return checksum(data, record.length, hash);
}

// A table entry: the block's requested size (40 bits) over a 24-bit check of
// size and position, so a flipped bit anywhere in the table is caught and 0
// stays "no block starts here".
inline std::uint64_t entry_check(std::uint64_t index, std::uint64_t size) noexcept {
  const std::uint64_t check = mix(mix(0x7461626C65000001ULL, index), size) & 0xFFFFFF;
  return check == 0 ? 1 : check;
}
inline std::uint64_t encode_entry(std::uint64_t index, std::uint64_t size) noexcept {
  return (size << 24) | entry_check(index, size);
}

inline std::uint64_t units_for(std::uint64_t size) noexcept { return (size + kUnit - 1) / kUnit; }
inline std::uint64_t page_round(std::uint64_t bytes) noexcept { return (bytes + kPage - 1) & ~(kPage - 1); }
inline std::uint64_t undo_record_bytes(std::uint64_t length) noexcept {
  return sizeof(UndoRecord) + ((length + 7) & ~std::uint64_t{7});
}

// Units that fit after the table that describes them.
inline std::uint64_t heap_units_for(std::uint64_t capacity, std::uint64_t table_offset) noexcept {
  if (capacity <= table_offset) return 0;
  std::uint64_t units = (capacity - table_offset) / (kUnit + 8);
  while (units > 0 && table_offset + page_round(units * 8) + units * kUnit > capacity) --units;
  return units;
}

}  // namespace nativepool::persistent_format
