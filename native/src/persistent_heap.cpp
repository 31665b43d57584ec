// SPDX-License-Identifier: Apache-2.0
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
#include <cstring>
#include <new>
#include <string>

namespace nativepool {
namespace {

// The file, page by page: header (page 0, with the group-commit word at
// kStateOffset and the growth record's two copies at kGrowthOffsets), redo
// log (page 1), roots (page 2), undo log, the table of one 8-byte entry per
// 64-byte unit, then the units themselves: segment 0. Each grow appends a
// segment, its own table then its units, so no offset ever moves.
constexpr char kMagic[8] = {'N', 'P', 'H', 'E', 'A', 'P', '\r', '\n'};
constexpr std::uint64_t kPage = PersistentHeap::kPage;
constexpr std::uint64_t kUnit = PersistentHeap::kUnit;
constexpr std::uint64_t kStateOffset = 1024;
constexpr std::uint64_t kGrowthOffsets[2] = {2048, 3072};
constexpr std::size_t kMaxGrows = PersistentHeap::kMaxGrows;
constexpr std::uint64_t kMinGrow = PersistentHeap::kMinCapacity;
constexpr std::uint64_t kRedoOffset = kPage;
constexpr std::uint64_t kRootsOffset = 2 * kPage;
constexpr std::uint64_t kUndoOffset = 3 * kPage;
constexpr std::size_t kRedoEntries = 8;
constexpr std::uint64_t kUndoFirstRecord = 64;  // the generation word has its own line
constexpr std::uint64_t kMaxBlockSize = (std::uint64_t{1} << 40) - 1;

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

std::uint64_t mix(std::uint64_t hash, std::uint64_t word) noexcept {
  hash ^= word;
  hash *= 0x9E3779B97F4A7C15ULL;
  return hash ^ (hash >> 29);
}

std::uint64_t checksum(const void* data, std::size_t length, std::uint64_t hash) noexcept {
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

std::uint64_t header_checksum(const Header& header) noexcept {
  return checksum(&header, offsetof(Header, checksum), 0x6E70686561700001ULL);
}

std::uint64_t redo_checksum(const RedoLog& log) noexcept {
  return checksum(log.entries, sizeof log.entries, mix(mix(0x7265646F6C6F6701ULL, log.sequence), log.count));
}

std::uint64_t growth_checksum(const Growth& growth) noexcept {
  return checksum(growth.ends, sizeof growth.ends, mix(mix(0x67726F7774680001ULL, growth.sequence), growth.count));
}

std::uint64_t record_checksum(const UndoRecord& record, const unsigned char* data) noexcept {
  std::uint64_t hash = mix(mix(mix(0x756E646F6C6F6701ULL, record.generation), record.offset), record.length);
  return checksum(data, record.length, hash);
}

// A table entry: the block's requested size (40 bits) over a 24-bit check of
// size and position, so a flipped bit anywhere in the table is caught and 0
// stays "no block starts here".
std::uint64_t entry_check(std::uint64_t index, std::uint64_t size) noexcept {
  const std::uint64_t check = mix(mix(0x7461626C65000001ULL, index), size) & 0xFFFFFF;
  return check == 0 ? 1 : check;
}
std::uint64_t encode_entry(std::uint64_t index, std::uint64_t size) noexcept {
  return (size << 24) | entry_check(index, size);
}

std::uint64_t units_for(std::uint64_t size) noexcept { return (size + kUnit - 1) / kUnit; }
std::uint64_t page_round(std::uint64_t bytes) noexcept { return (bytes + kPage - 1) & ~(kPage - 1); }
std::uint64_t undo_record_bytes(std::uint64_t length) noexcept {
  return sizeof(UndoRecord) + ((length + 7) & ~std::uint64_t{7});
}

// Units that fit after the table that describes them.
std::uint64_t heap_units_for(std::uint64_t capacity, std::uint64_t table_offset) noexcept {
  if (capacity <= table_offset) return 0;
  std::uint64_t units = (capacity - table_offset) / (kUnit + 8);
  while (units > 0 && table_offset + page_round(units * 8) + units * kUnit > capacity) --units;
  return units;
}

Status io_failure(const char* call, const char* path) noexcept {
  return fail(Status::kIoError, "%s(%s): %s", call, path, std::strerror(errno));
}

// A full disk is out of pool memory (free space or ask for less), any other
// failure of posix_fallocate an I/O error.
Status fallocate_failure(int error, const char* path, std::uint64_t capacity) noexcept {
  errno = error;
  if (error != ENOSPC) return io_failure("posix_fallocate", path);
  return fail(Status::kOutOfPoolMemory, "posix_fallocate(%s, %" PRIu64 "): disk full", path, capacity);
}

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

// One shared mapping of the file's first @p size bytes, or MAP_FAILED.
// MAP_SYNC is accepted only where the mapping is the media (DAX): then cache
// flushes make stores durable and no page cache needs writing back.
void* map_as(int fd, std::uint64_t size, Durability durability) noexcept {
  const int flags = durability == Durability::kCacheFlush ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED;
  return ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, flags, fd, 0);
}

Status map_failure(std::uint64_t size) noexcept {
  return fail(errno == ENOMEM ? Status::kOutOfPoolMemory : Status::kIoError, "mmap of %" PRIu64 " bytes: %s", size,
              std::strerror(errno));
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
