// SPDX-License-Identifier: Apache-2.0
// PersistentHeap: opening a heap file (create, open, the checks of header
// and growth record, mapping, locking), loading its layout and segments,
// and checking its table. The rest: the format (persistent_format.hpp),
// recovery (persistent_recovery.cpp), growth (persistent_growth.cpp), blocks
// and free space (persistent_space.cpp), durability and transactions
// (persistent_transactions.cpp).
#include "nativepool/persistent_heap.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "persistent_file.hpp"
#include "persistent_format.hpp"

namespace nativepool {
using namespace persistent_file;
using namespace persistent_format;

namespace {

// A copy is intact when it is all zero (never grown), or when its checksum
// matches and every segment it adds, in order, is at least kMinGrow.
bool growth_intact(const Growth& growth, std::uint64_t initial) noexcept {
  if (growth.sequence == 0) {
    static constexpr Growth kNeverGrown{};
    return std::memcmp(&growth, &kNeverGrown, sizeof growth) == 0;
  }
  if (growth.count == 0 || growth.count > kMaxGrows || growth.checksum != growth_checksum(growth)) return false;
  std::uint64_t start = initial;
  for (std::uint64_t i = 0; i < growth.count; ++i) {
    if (growth.ends[i] % kPage != 0 || growth.ends[i] < start || growth.ends[i] - start < kMinGrow) return false;
    start = growth.ends[i];
  }
  return true;
}

// The copy to trust: the intact one, or of two the one with the higher
// sequence (the later grow, whose second copy a crash interrupted).
Status read_growth(const unsigned char* page, std::uint64_t initial, Growth* out) noexcept {
  Growth copies[2];
  bool intact[2];
  for (int i = 0; i < 2; ++i) {
    std::memcpy(&copies[i], page + kGrowthOffsets[i], sizeof copies[i]);
    intact[i] = growth_intact(copies[i], initial);
  }
  if (!intact[0] && !intact[1]) return fail(Status::kCorrupted, "both copies of the growth record are damaged");
  *out = !intact[0] || (intact[1] && copies[1].sequence > copies[0].sequence) ? copies[1] : copies[0];
  return Status::kOk;
}

std::uint64_t grown_capacity(const Growth& growth, std::uint64_t initial) noexcept {
  return growth.count == 0 ? initial : growth.ends[growth.count - 1];
}

std::uint64_t boot_mark(const char* boot_id) noexcept {
  char text[64] = {};
  if (boot_id != nullptr && boot_id[0] != '\0') {
    std::snprintf(text, sizeof text, "%s", boot_id);
  } else {
    const int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::read(fd, text, sizeof text - 1);
      ::close(fd);
    }
  }
  return checksum(text, std::strlen(text), 0x626F6F7400000001ULL) | 1;
}

// Refuses anything but a heap of this version with an intact header and
// growth record, and reads nothing but page 0: the file is not touched.
// @p capacity: the bytes the heap uses, grows included.
Status check_header(int fd, const char* path, std::uint64_t file_size, Header* header,
                    std::uint64_t* capacity) noexcept {
  unsigned char page[kPage] = {};
  const ssize_t got = ::pread(fd, page, sizeof page, 0);
  if (got < 0) return io_failure("pread", path);
  std::memcpy(header, page, sizeof *header);
  const auto have = static_cast<std::size_t>(got);
  if (have < sizeof kMagic || std::memcmp(header->magic, kMagic, sizeof kMagic) != 0) {
    if (have > 0 && std::memcmp(header->magic, kMagic, std::min(have, sizeof kMagic)) == 0) {
      return fail(Status::kTruncated, "%s: a persistent heap cut short to %zu bytes", path, have);
    }
    return fail(Status::kNotAPool, "%s is not a persistent heap (no signature)", path);
  }
  if (have < sizeof *header) {
    return fail(Status::kTruncated, "%s: a persistent heap cut short to %zu bytes", path, have);
  }
  if (header->version != PersistentHeap::kFormatVersion) {
    return fail(Status::kVersionMismatch, "%s has format version %" PRIu32 "; this build reads version %" PRIu32,
                path, header->version, PersistentHeap::kFormatVersion);
  }
  if (header->checksum != header_checksum(*header)) {
    return fail(Status::kChecksumMismatch, "%s: the header checksum does not match its contents", path);
  }
  const std::uint64_t units = header->heap_units;
  const bool consistent = header->header_bytes == sizeof(Header) && header->unit == kUnit &&
                          header->roots == PersistentHeap::kRoots && header->capacity % kPage == 0 &&
                          header->undo_offset == kUndoOffset && header->undo_bytes >= kPage &&
                          header->undo_bytes % kPage == 0 && header->undo_bytes < header->capacity &&
                          header->table_offset == kUndoOffset + header->undo_bytes && units > 0 &&
                          units < header->capacity / kUnit &&
                          header->heap_offset == header->table_offset + page_round(units * 8) &&
                          header->heap_offset + units * kUnit <= header->capacity;
  if (!consistent) return fail(Status::kCorrupted, "%s: the header describes an impossible layout", path);
  if (have < sizeof page) return fail(Status::kTruncated, "%s: a persistent heap cut short to %zu bytes", path, have);
  Growth growth;
  if (read_growth(page, header->capacity, &growth) != Status::kOk) return fail_with_detail(Status::kCorrupted, "%s", path);
  *capacity = grown_capacity(growth, header->capacity);
  if (file_size < *capacity) {
    return fail(Status::kTruncated, "%s: the heap is %" PRIu64 " bytes but the file only %" PRIu64, path, *capacity,
                file_size);
  }
  return Status::kOk;
}

Status map_file(int fd, std::uint64_t size, bool force_msync, unsigned char** base, Durability* durability) noexcept {
  *durability = !force_msync && cache_flush_instruction()[0] != '\0' ? Durability::kCacheFlush : Durability::kMsync;
  void* mapped = map_as(fd, size, *durability);
  if (mapped == MAP_FAILED && *durability == Durability::kCacheFlush) {
    *durability = Durability::kMsync;
    mapped = map_as(fd, size, *durability);
  }
  if (mapped == MAP_FAILED) return map_failure(size);
  *base = static_cast<unsigned char*>(mapped);
  return Status::kOk;
}

Status check_max_capacity(const PersistentOptions& options) noexcept {
  if (options.max_capacity % kPage == 0) return Status::kOk;
  return fail(Status::kInvalidArgument, "max capacity %" PRIu64 " must be a multiple of 4096 (0: never grow)",
              options.max_capacity);
}

Status lock_file(int fd, const char* path) noexcept {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::kOk;
  if (errno == EWOULDBLOCK) return fail(Status::kAlreadyOpen, "%s is already open (another handle holds its lock)", path);
  return io_failure("flock", path);
}

void sync_directory(const char* path) noexcept {
  std::string directory(path);
  const std::size_t slash = directory.rfind('/');
  directory = slash == std::string::npos ? "." : slash == 0 ? "/" : directory.substr(0, slash);
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

PersistentHeap::PersistentHeap(int fd, unsigned char* base, std::uint64_t size, Durability durability,
                               const PersistentOptions& options) noexcept
    : fd_(fd),
      base_(base),
      size_(size),
      media_(base, static_cast<std::size_t>(size), durability, options.observer),
      group_commit_(options.group_commit),
      boot_mark_(boot_mark(options.boot_id)),
      max_capacity_(options.max_capacity) {}

PersistentHeap::~PersistentHeap() {
  {
    std::lock_guard<std::mutex> hold(lock_);
    if (in_tx_) abort_locked();
  }
  (void)flush();
  ::munmap(base_, static_cast<std::size_t>(size_));
  for (std::size_t i = 0; i < retired_count_; ++i) ::munmap(retired_[i].base, static_cast<std::size_t>(retired_[i].size));
  ::close(fd_);  // releases the flock
}

Status PersistentHeap::create(const char* path, const PersistentOptions& options,
                              std::unique_ptr<PersistentHeap>* out) noexcept {
  if (path == nullptr || out == nullptr) return fail(Status::kInvalidArgument, "persistent heap: null path or out");
  if (options.capacity < kMinCapacity || options.capacity % kPage != 0) {
    return fail(Status::kInvalidArgument, "capacity %" PRIu64 " must be a multiple of 4096 and at least %" PRIu64,
                options.capacity, kMinCapacity);
  }
  if (options.undo_log_bytes == 0 || options.undo_log_bytes % kPage != 0 ||
      options.undo_log_bytes > options.capacity / 2) {
    return fail(Status::kInvalidArgument,
                "undo log of %" PRIu64 " bytes: a positive multiple of 4096, at most half the capacity",
                options.undo_log_bytes);
  }
  if (Status status = check_max_capacity(options); status != Status::kOk) return status;
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kFormatVersion;
  header.header_bytes = sizeof(Header);
  header.capacity = options.capacity;
  header.undo_offset = kUndoOffset;
  header.undo_bytes = options.undo_log_bytes;
  header.table_offset = kUndoOffset + options.undo_log_bytes;
  header.heap_units = heap_units_for(options.capacity, header.table_offset);
  header.heap_offset = header.table_offset + page_round(header.heap_units * 8);
  header.roots = kRoots;
  header.unit = kUnit;
  header.checksum = header_checksum(header);
  if (header.heap_units == 0) return fail(Status::kInvalidArgument, "capacity leaves no room for blocks");

  const int fd = ::open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return fail(Status::kInvalidArgument, "%s exists; open() it or remove it", path);
    return io_failure("open", path);
  }
  auto give_up = [&](Status status) {
    ::unlink(path);
    ::close(fd);
    return status;
  };
  Status status = lock_file(fd, path);
  if (status != Status::kOk) return give_up(status);
  // Every block of the file now, so a full disk is this error and never a
  // SIGBUS on a store into a hole later.
  const int error = ::posix_fallocate(fd, 0, static_cast<off_t>(options.capacity));
  if (error != 0) return give_up(fallocate_failure(error, path, options.capacity));
  // The fresh file reads as zeros: an empty redo log, empty roots, undo
  // generation 0 and an empty table. The header goes last, after the rest
  // is durable, so a crash during create leaves a file open() calls no heap.
  if (::fdatasync(fd) != 0) return give_up(io_failure("fdatasync", path));
  if (::pwrite(fd, &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) {
    return give_up(io_failure("pwrite", path));
  }
  if (::fdatasync(fd) != 0) return give_up(io_failure("fdatasync", path));
  sync_directory(path);
  status = open_mapped(fd, options.capacity, options, out);
  if (status != Status::kOk) {
    ::unlink(path);  // open_mapped closed fd
  }
  return status;
}

Status PersistentHeap::open(const char* path, const PersistentOptions& options,
                            std::unique_ptr<PersistentHeap>* out) noexcept {
  if (path == nullptr || out == nullptr) return fail(Status::kInvalidArgument, "persistent heap: null path or out");
  if (Status status = check_max_capacity(options); status != Status::kOk) return status;
  const int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_failure("open", path);
  Status status = lock_file(fd, path);
  struct stat info {};
  if (status == Status::kOk && ::fstat(fd, &info) != 0) status = io_failure("fstat", path);
  Header header{};
  std::uint64_t capacity = 0;
  if (status == Status::kOk) {
    status = check_header(fd, path, static_cast<std::uint64_t>(info.st_size), &header, &capacity);
  }
  if (status != Status::kOk) {
    ::close(fd);
    return status;
  }
  status = open_mapped(fd, capacity, options, out);
  if (status != Status::kOk) return fail_with_detail(status, "%s", path);
  return Status::kOk;
}

Status PersistentHeap::open_mapped(int fd, std::uint64_t size, const PersistentOptions& options,
                                   std::unique_ptr<PersistentHeap>* out) noexcept {
  unsigned char* base = nullptr;
  Durability durability = Durability::kMsync;
  Status status = map_file(fd, size, options.force_msync, &base, &durability);
  if (status != Status::kOk) {
    ::close(fd);
    return status;
  }
  std::unique_ptr<PersistentHeap> heap(new (std::nothrow) PersistentHeap(fd, base, size, durability, options));
  if (heap == nullptr) {
    ::munmap(base, static_cast<std::size_t>(size));
    ::close(fd);
    return fail(Status::kInternal, "persistent heap: out of host memory");
  }
  status = heap->load();
  if (status != Status::kOk) return status;  // the destructor unmaps and closes
  *out = std::move(heap);
  return Status::kOk;
}

Status PersistentHeap::load() noexcept {
  const auto& header = *reinterpret_cast<const Header*>(base_);
  undo_offset_ = header.undo_offset;
  undo_bytes_ = header.undo_bytes;
  segments_[0] = {header.table_offset, header.heap_offset, header.heap_units};
  segment_count_ = 1;
  Growth growth;
  if (Status status = read_growth(base_, header.capacity, &growth); status != Status::kOk) return status;
  growth_sequence_ = growth.sequence;
  for (std::uint64_t i = 0, start = header.capacity; i < growth.count; start = growth.ends[i++]) {
    add_segment(start, growth.ends[i]);
  }
  // Nothing is written before every check that needs no recovery passed.
  const std::uint64_t state = word(kStateOffset);
  if (state != 0 && state != boot_mark_) {
    return fail(Status::kCorrupted,
                "the heap was written in group-commit mode and the machine restarted before flush(): "
                "what it holds may be inconsistent");
  }
  Status status = check_table();
  if (status != Status::kOk) return status;
  try {
    const std::size_t records = undo_bytes_ / sizeof(UndoRecord);
    undo_ranges_.reserve(records);
    tx_new_blocks_.reserve(records);
    tx_freed_.reserve(records);
    undo_positions_.reserve(records);
    // What recovery overwrites: every undo record's range and the redo
    // targets, plus the words that retire both logs.
    recovery_ranges_.reserve(records + kRedoEntries + 2);
    recovery_bytes_.reserve(undo_bytes_ + sizeof(RedoLog) + 8);
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "persistent heap: out of host memory");
  }
  opening_ = true;
  status = recover();
  if (status == Status::kOk) status = rebuild();
  for (std::size_t i = 0; status == Status::kOk && i < kRoots; ++i) {
    const std::uint64_t block = root(i);
    if (block != 0 && live_.count(block) == 0) {
      status = fail(Status::kCorrupted, "root %zu holds offset %" PRIu64 ", which is no live block", i, block);
    }
  }
  opening_ = false;
  // Only the recovered heap can be checked, so a refusal after recovery
  // puts back what it wrote: the file stays as it was found.
  if (status != Status::kOk) {
    undo_recovery();
    return status;
  }
  recovery_ranges_ = {};
  recovery_bytes_ = {};
  // Same boot: the page cache holds every change; flush() (or closing) clears
  // the word. Set only now, so a refused open never writes it.
  unflushed_ = state != 0;
  return Status::kOk;
}

// Walks each segment's table: each entry is 0 or a checked size whose units
// lie in the segment and hold only zeros after the first. Entries are
// checked against their unit's index counted from segment 0's first unit.
Status PersistentHeap::check_table() const noexcept {
  for (std::size_t k = 0; k < segment_count_; ++k) {
    const Segment& segment = segments_[k];
    const std::uint64_t* table = &word(segment.table_offset);
    const std::uint64_t first = unit_index(segment.heap_offset);
    for (std::uint64_t unit = 0; unit < segment.units;) {
      const std::uint64_t entry = table[unit];
      if (entry == 0) {
        ++unit;
        continue;
      }
      const std::uint64_t size = entry >> 24;
      const std::uint64_t at = segment.heap_offset + unit * kUnit;
      if ((entry & 0xFFFFFF) != entry_check(first + unit, size) || size == 0) {
        return fail(Status::kCorrupted, "table entry %" PRIu64 " (block at offset %" PRIu64 ") fails its check",
                    first + unit, at);
      }
      const std::uint64_t units = units_for(size);
      if (units > segment.units - unit) {
        return fail(Status::kCorrupted, "the block at offset %" PRIu64 " (%" PRIu64 " bytes) runs past its segment",
                    at, size);
      }
      for (std::uint64_t inner = unit + 1; inner < unit + units; ++inner) {
        if (table[inner] != 0) {
          return fail(Status::kCorrupted, "table entry %" PRIu64 " lies inside the block at offset %" PRIu64,
                      first + inner, at);
        }
      }
      unit += units;
    }
  }
  return Status::kOk;
}

void PersistentHeap::add_segment(std::uint64_t start, std::uint64_t end) noexcept {
  const std::uint64_t units = heap_units_for(end, start);
  segments_[segment_count_++] = {start, start + page_round(units * 8), units};
}

// The segment whose units an offset in the heap lies among (or before the
// next one's): segments are in file order, and the newest are searched first.
const PersistentHeap::Segment& PersistentHeap::segment_of(std::uint64_t offset) const noexcept {
  std::size_t k = segment_count_ - 1;
  while (k > 0 && segments_[k].heap_offset > offset) --k;
  return segments_[k];
}

std::uint64_t PersistentHeap::unit_index(std::uint64_t offset) const noexcept {
  return (offset - segments_[0].heap_offset) / kUnit;
}

}  // namespace nativepool
