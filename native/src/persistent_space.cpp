// SPDX-License-Identifier: Apache-2.0
// PersistentHeap's blocks and free space: the free extents and block maps
// in host memory, the checks of offsets and ranges, reserve, publish,
// cancel, allocate and free, and validate() and stats().
#include "nativepool/persistent_heap.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "persistent_format.hpp"

namespace nativepool {
using namespace persistent_format;

// ---- free extents and block maps (host memory only) ----

// What one operation can add to the four maps at most (a reservation or a
// block, plus an extent given back by a grow and one by a failure path), and
// what ending the open transaction will add (an extent or a block for each
// block it allocated or freed).
constexpr std::size_t kStockEntries = 3;
constexpr std::size_t kStockSizes = 2;
// Spare nodes kept beyond that; more are freed.
constexpr std::size_t kSpareLimit = 64;

// Every operation that adds to the maps first takes the host memory it may
// need, before it changes anything: a failed host allocation is then a
// refusal that leaves heap and file as they were, never std::bad_alloc
// through the heap (and through JNI), and commit and abort, which must not
// fail halfway, never allocate at all. Inserts take spare nodes, erases
// return theirs (std::map's node handles move without allocating).
Status PersistentHeap::stock() noexcept {
  try {
    while (spare_entries_.size() < kStockEntries + tx_pending()) spare_entries_.emplace(++spare_key_, 0);
    while (spare_sizes_.size() < kStockSizes + tx_pending()) spare_sizes_.emplace(++spare_key_, 0);
  } catch (const std::bad_alloc&) {
    return fail(Status::kOutOfPoolMemory, "out of host memory for the heap's free lists");
  }
  return Status::kOk;
}

std::size_t PersistentHeap::tx_pending() const noexcept {
  return in_tx_ ? tx_new_blocks_.size() + tx_freed_.size() : 0;
}

void PersistentHeap::put(Entries& map, std::uint64_t key, std::uint64_t value) noexcept {
  auto node = spare_entries_.extract(spare_entries_.begin());
  node.key() = key;
  node.mapped() = value;
  map.insert(std::move(node));
}

void PersistentHeap::drop(Entries& map, Entries::iterator at) noexcept {
  auto node = map.extract(at);
  if (spare_entries_.size() >= kSpareLimit + tx_pending()) return;  // the node is freed
  node.key() = ++spare_key_;
  spare_entries_.insert(std::move(node));
}

void PersistentHeap::put_size(std::uint64_t units, std::uint64_t offset) noexcept {
  auto node = spare_sizes_.extract(spare_sizes_.begin());
  node.value() = {units, offset};
  free_by_size_.insert(std::move(node));
}

void PersistentHeap::drop_size(Sizes::iterator at) noexcept {
  auto node = free_by_size_.extract(at);
  if (spare_sizes_.size() >= kSpareLimit + tx_pending()) return;
  node.value() = {++spare_key_, 0};
  spare_sizes_.insert(std::move(node));
}

Status PersistentHeap::take_extent(std::uint64_t units, std::uint64_t* offset) noexcept {
  const auto fit = free_by_size_.lower_bound({units, 0});  // best fit, lowest offset
  if (fit == free_by_size_.end()) {
    return fail(Status::kOutOfPoolMemory, "no free extent of %" PRIu64 " bytes (%" PRIu64 " bytes free in all)",
                units * kUnit, free_units_ * kUnit);
  }
  const auto [have, at] = *fit;
  drop_size(fit);
  drop(free_by_offset_, free_by_offset_.find(at));
  if (have > units) {
    put(free_by_offset_, at + units * kUnit, have - units);
    put_size(have - units, at + units * kUnit);
  }
  free_units_ -= units;
  *offset = at;
  return Status::kOk;
}

// Merges with both neighbours at once, so no two free extents ever touch.
void PersistentHeap::give_extent(std::uint64_t offset, std::uint64_t units) noexcept {
  free_units_ += units;
  auto next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.end() && next->first == offset + units * kUnit) {
    units += next->second;
    drop_size(free_by_size_.find({next->second, next->first}));
    const auto after = std::next(next);
    drop(free_by_offset_, next);
    next = after;
  }
  if (next != free_by_offset_.begin()) {
    const auto prev = std::prev(next);
    if (prev->first + prev->second * kUnit == offset) {
      offset = prev->first;
      units += prev->second;
      drop_size(free_by_size_.find({prev->second, prev->first}));
      drop(free_by_offset_, prev);
    }
  }
  put(free_by_offset_, offset, units);
  put_size(units, offset);
}

// ---- checks ----

std::uint64_t PersistentHeap::entry_offset(std::uint64_t block) const noexcept {
  const Segment& segment = segment_of(block);
  return segment.table_offset + (block - segment.heap_offset) / kUnit * 8;
}

std::uint64_t PersistentHeap::root_slot(std::size_t index) noexcept {
  return index < kRoots ? kRootsOffset + index * 8 : 0;
}

std::uint64_t PersistentHeap::root(std::size_t index) const noexcept {
  return index < kRoots ? word(kRootsOffset + index * 8) : 0;
}

std::uint64_t PersistentHeap::block_size(std::uint64_t offset) const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  const auto found = live_.find(offset);
  return found == live_.end() ? 0 : found->second;
}

void* PersistentHeap::view(std::uint64_t offset, std::uint64_t size) const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  const auto live = live_.find(offset);
  const auto reserved = reserved_.find(offset);
  const bool holds = live != live_.end() ? size <= live->second
                                         : reserved != reserved_.end() && size <= reserved->second * kUnit;
  return holds ? base_ + offset : nullptr;
}

std::uint64_t PersistentHeap::capacity() const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  return size_;
}

std::uint64_t PersistentHeap::mappings() const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  return retired_count_;
}

Status PersistentHeap::check_destination(std::uint64_t destination) const noexcept {
  if (destination % 8 == 0 && destination >= kRootsOffset && destination < kRootsOffset + kRoots * 8) {
    return Status::kOk;
  }
  auto holder = live_.upper_bound(destination);
  if (destination % 8 == 0 && holder != live_.begin()) {
    --holder;
    if (destination - holder->first + 8 <= holder->second) return Status::kOk;
  }
  return fail(Status::kInvalidArgument,
              "destination %" PRIu64 " is neither a root slot nor an aligned 8-byte word inside a live block",
              destination);
}

Status PersistentHeap::check_range(std::uint64_t block, std::uint64_t offset, std::uint64_t length) const noexcept {
  if (length == 0) return fail(Status::kInvalidArgument, "a range of length 0");
  if (block == 0) {
    if (offset >= kRootsOffset && offset < kRootsOffset + kRoots * 8 && length <= kRootsOffset + kRoots * 8 - offset) {
      return Status::kOk;
    }
    return fail(Status::kInvalidArgument, "block 0 names the roots; [%" PRIu64 ", +%" PRIu64 ") is not inside them",
                offset, length);
  }
  const auto found = live_.find(block);
  if (found == live_.end()) return fail(Status::kInvalidFree, "offset %" PRIu64 " is not a live block", block);
  if (offset > found->second || length > found->second - offset) {
    return fail(Status::kInvalidArgument,
                "range [%" PRIu64 ", +%" PRIu64 ") lies outside the %" PRIu64 "-byte block at %" PRIu64, offset,
                length, found->second, block);
  }
  return Status::kOk;
}

Status PersistentHeap::check_no_transaction(const char* operation) const noexcept {
  if (!in_tx_) return Status::kOk;
  return fail(Status::kInvalidArgument, "%s outside the open transaction is refused; commit or abort it first",
              operation);
}

// ---- reservations, publish, allocate and free ----

Status PersistentHeap::reserve(std::uint64_t size, PersistentReservation* out) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  return reserve_locked(size, out);
}

Status PersistentHeap::reserve_locked(std::uint64_t size, PersistentReservation* out) noexcept {
  if (out == nullptr) return fail(Status::kInvalidArgument, "reserve: out is null");
  Status status = check_no_transaction("reserve");
  if (status != Status::kOk) return status;
  if (size == 0 || size > kMaxBlockSize) {
    return fail(Status::kInvalidArgument, "size %" PRIu64 " must be between 1 and 2^40 - 1", size);
  }
  status = stock();
  if (status != Status::kOk) return status;
  std::uint64_t offset = 0;
  status = take_or_grow(units_for(size), &offset);
  if (status != Status::kOk) return status;
  put(reserved_, offset, units_for(size));
  *out = {offset, size};
  return Status::kOk;
}

Status PersistentHeap::publish(const PersistentReservation& reservation, std::uint64_t destination) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  return publish_locked(reservation, destination);
}

Status PersistentHeap::publish_locked(const PersistentReservation& reservation, std::uint64_t destination) noexcept {
  Status status = check_no_transaction("publish");
  if (status != Status::kOk) return status;
  const auto found = reserved_.find(reservation.offset);
  if (found == reserved_.end() || found->second != units_for(reservation.size) || reservation.size == 0) {
    return fail(Status::kInvalidArgument, "offset %" PRIu64 " with size %" PRIu64 " is no open reservation",
                reservation.offset, reservation.size);
  }
  status = check_destination(destination);
  if (status != Status::kOk) return status;
  if (word(destination) != 0) {
    return fail(Status::kInvalidArgument, "destination %" PRIu64 " holds %" PRIu64 "; free it first", destination,
                word(destination));
  }
  // The payload is durable before the log that publishes it is written:
  // without the drain, log and payload lines could reach the media in any
  // order (the power-loss test finds exactly that).
  ordered(reservation.offset, reservation.size);
  ordered_drain();
  const std::uint64_t index = unit_index(reservation.offset);
  const std::uint64_t words[2][2] = {{entry_offset(reservation.offset), encode_entry(index, reservation.size)},
                                     {destination, reservation.offset}};
  status = redo(words, 2);
  drop(reserved_, found);
  put(live_, reservation.offset, reservation.size);
  units_in_use_ += units_for(reservation.size);
  bytes_in_use_ += reservation.size;
  ++allocations_;
  return status;
}

Status PersistentHeap::cancel(const PersistentReservation& reservation) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  const auto found = reserved_.find(reservation.offset);
  if (found == reserved_.end() || found->second != units_for(reservation.size)) {
    return fail(Status::kInvalidArgument, "offset %" PRIu64 " with size %" PRIu64 " is no open reservation",
                reservation.offset, reservation.size);
  }
  if (Status status = stock(); status != Status::kOk) return status;
  const auto [offset, units] = *found;
  drop(reserved_, found);
  give_extent(offset, units);
  return Status::kOk;
}

Status PersistentHeap::allocate(std::uint64_t size, std::uint64_t destination, std::uint64_t* out) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (out == nullptr) return fail(Status::kInvalidArgument, "allocate: out is null");
  Status status = check_no_transaction("allocate");
  if (status == Status::kOk) status = check_destination(destination);
  if (status != Status::kOk) return status;
  PersistentReservation reservation;
  status = reserve_locked(size, &reservation);
  if (status != Status::kOk) return status;
  std::memset(address(reservation.offset), 0, reservation.size);
  status = publish_locked(reservation, destination);
  if (const auto left = reserved_.find(reservation.offset); status != Status::kOk && left != reserved_.end()) {
    drop(reserved_, left);
    give_extent(reservation.offset, units_for(size));
    return status;
  }
  *out = reservation.offset;
  return status;
}

Status PersistentHeap::free(std::uint64_t destination) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  Status status = check_no_transaction("free");
  if (status == Status::kOk) status = check_destination(destination);
  if (status == Status::kOk) status = stock();
  if (status != Status::kOk) return status;
  const std::uint64_t block = word(destination);
  const auto found = live_.find(block);
  if (block == 0 || found == live_.end()) {
    return fail(block == 0 ? Status::kDoubleFree : Status::kInvalidFree,
                "destination %" PRIu64 " holds %" PRIu64 ", which is no live block", destination, block);
  }
  const std::uint64_t words[2][2] = {{entry_offset(block), 0}, {destination, 0}};
  status = redo(words, 2);
  const std::uint64_t size = found->second;
  units_in_use_ -= units_for(size);
  bytes_in_use_ -= size;
  drop(live_, found);
  give_extent(block, units_for(size));
  ++frees_;
  return status;
}

// ---- validate and stats ----

Status PersistentHeap::validate() const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  Status status = check_table();
  if (status != Status::kOk) return status;
  std::uint64_t units = 0;
  std::uint64_t bytes = 0;
  for (const auto& [offset, size] : live_) {
    const Segment& segment = segment_of(offset);
    if (offset < segment.heap_offset || (offset - segment.heap_offset) % kUnit != 0 || offset >= segment.heap_end() ||
        word(entry_offset(offset)) != encode_entry(unit_index(offset), size)) {
      return fail(Status::kCorrupted, "live block %" PRIu64 " (%" PRIu64 " bytes) is not in the table", offset, size);
    }
    units += units_for(size);
    bytes += size;
  }
  if (units != units_in_use_ || bytes != bytes_in_use_) {
    return fail(Status::kCorrupted, "counters say %" PRIu64 " bytes in use, the blocks %" PRIu64, bytes_in_use_, bytes);
  }
  // Live, reserved, freed-at-commit and free extents tile each segment exactly.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
  try {
    extents.reserve(live_.size() + reserved_.size() + tx_freed_.size() + free_by_offset_.size());
    for (const auto& [offset, size] : live_) extents.emplace_back(offset, units_for(size));
    for (const auto& extent : reserved_) extents.push_back(extent);
    for (const Undo& freed : tx_freed_) extents.emplace_back(freed.offset, units_for(freed.length));
    for (const auto& extent : free_by_offset_) extents.push_back(extent);
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "validate: out of host memory");
  }
  std::sort(extents.begin(), extents.end());
  std::size_t k = 0;
  std::uint64_t expected = segments_[0].heap_offset;
  for (const auto& [offset, count] : extents) {
    if (offset != expected && expected == segments_[k].heap_end() && k + 1 < segment_count_) {
      expected = segments_[++k].heap_offset;  // the next segment
    }
    if (offset != expected) {
      return fail(Status::kCorrupted, "the heap's extents leave a gap or overlap at offset %" PRIu64, expected);
    }
    expected += count * kUnit;
    if (expected > segments_[k].heap_end()) {
      return fail(Status::kCorrupted, "the extent at offset %" PRIu64 " runs past its segment", offset);
    }
  }
  if (k + 1 != segment_count_ || expected != segments_[k].heap_end()) {
    return fail(Status::kCorrupted, "the heap's extents end at %" PRIu64 ", not at its end", expected);
  }
  std::uint64_t free_units = 0;
  std::uint64_t previous_end = 0;
  for (const auto& [offset, count] : free_by_offset_) {
    if (offset == previous_end) return fail(Status::kCorrupted, "free extents touch at %" PRIu64, offset);
    if (free_by_size_.count({count, offset}) == 0) {
      return fail(Status::kCorrupted, "free extent %" PRIu64 " is missing from the size index", offset);
    }
    free_units += count;
    previous_end = offset + count * kUnit;
  }
  if (free_units != free_units_ || free_by_size_.size() != free_by_offset_.size()) {
    return fail(Status::kCorrupted, "the free-space counters disagree with the free extents");
  }
  if (!in_tx_) {
    for (std::size_t i = 0; i < kRoots; ++i) {
      const std::uint64_t block = word(kRootsOffset + i * 8);
      if (block != 0 && live_.count(block) == 0) {
        return fail(Status::kCorrupted, "root %zu holds %" PRIu64 ", which is no live block", i, block);
      }
    }
  }
  return Status::kOk;
}

PersistentStats PersistentHeap::stats() const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  PersistentStats stats;
  stats.capacity = size_;
  for (std::size_t k = 0; k < segment_count_; ++k) stats.heap_bytes += segments_[k].units * kUnit;
  stats.live_blocks = live_.size();
  stats.bytes_in_use = bytes_in_use_;
  stats.units_in_use = units_in_use_;
  stats.free_bytes = free_units_ * kUnit;
  stats.largest_free = free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first * kUnit;
  stats.free_extents = free_by_offset_.size();
  stats.allocations = allocations_;
  stats.frees = frees_;
  stats.flushed_bytes = media_.flushed_bytes();
  stats.persist_points = media_.drains();
  stats.recovered_redo = recovered_redo_;
  stats.recovered_undo = recovered_undo_;
  stats.grows = segment_count_ - 1;
  return stats;
}

}  // namespace nativepool
