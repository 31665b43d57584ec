// SPDX-License-Identifier: Apache-2.0
// PersistentHeap's growth: the file extended by a segment, mapped anew and
// committed by the growth record; grow() or, up to max_capacity, on its own
// when no free extent fits a block.
#include "nativepool/persistent_heap.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "persistent_file.hpp"
#include "persistent_format.hpp"

namespace nativepool {
using namespace persistent_file;
using namespace persistent_format;

// ---- growth: a segment appended, committed by the growth record ----

Status PersistentHeap::grow(std::uint64_t capacity) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  return grow_locked(capacity);
}

Status PersistentHeap::grow_locked(std::uint64_t capacity) noexcept {
  if (capacity % kPage != 0 || capacity < size_ || capacity - size_ < kMinGrow) {
    return fail(Status::kInvalidArgument,
                "grow to %" PRIu64 " bytes: a multiple of 4096, at least %" PRIu64 " more than the capacity %" PRIu64,
                capacity, kMinGrow, size_);
  }
  if (segment_count_ > kMaxGrows) {
    return fail(Status::kInvalidArgument, "the heap has grown %zu times, all its growth record holds; create a larger one",
                kMaxGrows);
  }
  if (Status status = stock(); status != Status::kOk) return status;
  // Whatever an interrupted grow left past the capacity goes first, so the
  // new segment's table reads as zeros; then every block of the new part is
  // allocated and its size made durable, so a full disk is this error and
  // never a SIGBUS later, and the commit below never names missing space.
  constexpr const char* kFile = "heap file";
  const auto old_size = static_cast<off_t>(size_);
  if (::ftruncate(fd_, old_size) != 0) return io_failure("ftruncate", kFile);
  Status status = Status::kOk;
  const int error = ::posix_fallocate(fd_, old_size, static_cast<off_t>(capacity - size_));
  if (error != 0) {
    status = fallocate_failure(error, kFile, capacity);
  } else if (::fdatasync(fd_) != 0) {
    status = io_failure("fdatasync", kFile);
  }
  // A new mapping of the whole file; the old one stays until close, so an
  // address taken before (a Java handle's view in another thread) still
  // reaches the same bytes and never faults.
  void* mapped = status == Status::kOk ? map_as(fd_, capacity, media_.durability()) : MAP_FAILED;
  if (status == Status::kOk && mapped == MAP_FAILED) status = map_failure(capacity);
  if (status != Status::kOk) {
    (void)::ftruncate(fd_, old_size);
    return status;
  }
  retired_[retired_count_++] = {base_, size_};
  base_ = static_cast<unsigned char*>(mapped);
  media_.remap(base_, static_cast<std::size_t>(capacity));
  add_segment(size_, capacity);
  size_ = capacity;
  write_growth(capacity);
  give_extent(segments_[segment_count_ - 1].heap_offset, segments_[segment_count_ - 1].units);
  return io_status("grow");
}

// The commit point of a grow: copy 0 of the record, one persist, then copy 1
// (see Growth).
void PersistentHeap::write_growth(std::uint64_t capacity) noexcept {
  Growth growth{};
  growth.sequence = ++growth_sequence_;
  growth.count = segment_count_ - 1;
  for (std::size_t k = 1; k < segment_count_; ++k) {
    growth.ends[k - 1] = k + 1 < segment_count_ ? segments_[k + 1].table_offset : capacity;
  }
  growth.checksum = growth_checksum(growth);
  for (const std::uint64_t at : kGrowthOffsets) {
    std::memcpy(base_ + at, &growth, sizeof growth);
    ordered(at, sizeof growth);
    ordered_drain();
  }
}

Status PersistentHeap::take_or_grow(std::uint64_t units, std::uint64_t* offset) noexcept {
  const Status status = take_extent(units, offset);
  if (status != Status::kOutOfPoolMemory || max_capacity_ == 0) [[likely]] return status;
  return grow_for(units, offset);
}

// Auto-grow: at least doubling, so a filling heap grows a logarithmic number
// of times, and at least by a segment that holds the block (its table
// entries, then its units), up to max_capacity.
[[gnu::noinline]] Status PersistentHeap::grow_for(std::uint64_t units, std::uint64_t* offset) noexcept {
  const std::uint64_t needed = std::max(kMinGrow, page_round(page_round(units * 8) + units * kUnit));
  const std::uint64_t target = std::min(max_capacity_, std::max(size_ + needed, 2 * size_));
  if (target < size_ + needed || segment_count_ > kMaxGrows) {
    return fail(Status::kOutOfPoolMemory,
                "no free extent of %" PRIu64 " bytes, and growing (to at most %" PRIu64 " bytes, %zu times) cannot make one",
                units * kUnit, max_capacity_, kMaxGrows);
  }
  const Status status = grow_locked(target);
  return status != Status::kOk ? status : take_extent(units, offset);
}

}  // namespace nativepool
