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
// kStateOffset), redo log (page 1), roots (page 2), undo log, the table of
// one 8-byte entry per 64-byte unit, then the units themselves.
constexpr char kMagic[8] = {'N', 'P', 'H', 'E', 'A', 'P', '\r', '\n'};
constexpr std::uint64_t kPage = PersistentHeap::kPage;
constexpr std::uint64_t kUnit = PersistentHeap::kUnit;
constexpr std::uint64_t kStateOffset = 1024;
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

// Refuses anything but a heap of this version with an intact header, and
// reads nothing but the header: the file is not touched.
Status check_header(int fd, const char* path, std::uint64_t file_size, Header* header) noexcept {
  std::memset(header, 0, sizeof *header);
  const ssize_t got = ::pread(fd, header, sizeof *header, 0);
  if (got < 0) return io_failure("pread", path);
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
  if (file_size < header->capacity) {
    return fail(Status::kTruncated, "%s: the heap is %" PRIu64 " bytes but the file only %" PRIu64, path,
                header->capacity, file_size);
  }
  return Status::kOk;
}

// MAP_SYNC is accepted only where the mapping is the media (DAX): then cache
// flushes make stores durable and no page cache needs writing back.
Status map_file(int fd, std::uint64_t size, bool force_msync, unsigned char** base, Durability* durability) noexcept {
  const auto length = static_cast<std::size_t>(size);
  if (!force_msync && cache_flush_instruction()[0] != '\0') {
    void* sync = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (sync != MAP_FAILED) {
      *base = static_cast<unsigned char*>(sync);
      *durability = Durability::kCacheFlush;
      return Status::kOk;
    }
  }
  void* shared = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shared == MAP_FAILED) return fail(Status::kIoError, "mmap of %" PRIu64 " bytes: %s", size, std::strerror(errno));
  *base = static_cast<unsigned char*>(shared);
  *durability = Durability::kMsync;
  return Status::kOk;
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
      boot_mark_(boot_mark(options.boot_id)) {}

PersistentHeap::~PersistentHeap() {
  {
    std::lock_guard<std::mutex> hold(lock_);
    if (in_tx_) abort_locked();
  }
  (void)flush();
  ::munmap(base_, static_cast<std::size_t>(size_));
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
  if (error != 0) {
    errno = error;
    return give_up(error == ENOSPC ? fail(Status::kOutOfPoolMemory, "posix_fallocate(%s, %" PRIu64 "): disk full", path,
                                          options.capacity)
                                   : io_failure("posix_fallocate", path));
  }
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
  const int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return io_failure("open", path);
  Status status = lock_file(fd, path);
  struct stat info {};
  if (status == Status::kOk && ::fstat(fd, &info) != 0) status = io_failure("fstat", path);
  Header header{};
  if (status == Status::kOk) status = check_header(fd, path, static_cast<std::uint64_t>(info.st_size), &header);
  if (status != Status::kOk) {
    ::close(fd);
    return status;
  }
  status = open_mapped(fd, header.capacity, options, out);
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
  table_offset_ = header.table_offset;
  heap_offset_ = header.heap_offset;
  heap_units_ = header.heap_units;
  // Nothing is written before every check that can refuse the file passed.
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
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "persistent heap: out of host memory");
  }
  status = recover();
  if (status != Status::kOk) return status;
  status = rebuild();
  if (status != Status::kOk) return status;
  for (std::size_t i = 0; i < kRoots; ++i) {
    const std::uint64_t block = root(i);
    if (block != 0 && live_.count(block) == 0) {
      return fail(Status::kCorrupted, "root %zu holds offset %" PRIu64 ", which is no live block", i, block);
    }
  }
  // Same boot: the page cache holds every change; flush() (or closing) clears
  // the word. Set only now, so a refused open never writes it.
  unflushed_ = state != 0;
  return Status::kOk;
}

// Walks the table: each entry is 0 or a checked size whose units lie in the
// heap and hold only zeros after the first.
Status PersistentHeap::check_table() const noexcept {
  const std::uint64_t* table = &word(table_offset_);
  for (std::uint64_t unit = 0; unit < heap_units_;) {
    const std::uint64_t entry = table[unit];
    if (entry == 0) {
      ++unit;
      continue;
    }
    const std::uint64_t size = entry >> 24;
    if ((entry & 0xFFFFFF) != entry_check(unit, size) || size == 0) {
      return fail(Status::kCorrupted, "table entry %" PRIu64 " (block at offset %" PRIu64 ") fails its check", unit,
                  heap_offset_ + unit * kUnit);
    }
    const std::uint64_t units = units_for(size);
    if (units > heap_units_ - unit) {
      return fail(Status::kCorrupted, "the block at offset %" PRIu64 " (%" PRIu64 " bytes) runs past the heap",
                  heap_offset_ + unit * kUnit, size);
    }
    for (std::uint64_t inner = unit + 1; inner < unit + units; ++inner) {
      if (table[inner] != 0) {
        return fail(Status::kCorrupted, "table entry %" PRIu64 " lies inside the block at offset %" PRIu64, inner,
                    heap_offset_ + unit * kUnit);
      }
    }
    unit += units;
  }
  return Status::kOk;
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
    replay_redo();
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
    std::memcpy(base_ + record.offset, base_ + at + sizeof(UndoRecord), record.length);
    media_.flush(record.offset, record.length);
  }
  media_.drain();
  ++generation;
  media_.persist(undo_offset_, 8);
  return undo_positions_.size();
}

Status PersistentHeap::rebuild() noexcept {
  const std::uint64_t* table = &word(table_offset_);
  try {
    std::uint64_t free_start = 0;
    std::uint64_t free_units = 0;
    for (std::uint64_t unit = 0; unit < heap_units_;) {
      const std::uint64_t entry = table[unit];
      if (entry == 0) {
        if (free_units == 0) free_start = unit;
        ++free_units;
        ++unit;
        continue;
      }
      if (free_units != 0) give_extent(heap_offset_ + free_start * kUnit, free_units);
      free_units = 0;
      const std::uint64_t size = entry >> 24;
      live_.emplace_hint(live_.end(), heap_offset_ + unit * kUnit, size);
      units_in_use_ += units_for(size);
      bytes_in_use_ += size;
      unit += units_for(size);
    }
    if (free_units != 0) give_extent(heap_offset_ + free_start * kUnit, free_units);
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "persistent heap: out of host memory for the free lists");
  }
  return Status::kOk;
}

// ---- free extents (host memory only) ----

Status PersistentHeap::take_extent(std::uint64_t units, std::uint64_t* offset) noexcept {
  const auto fit = free_by_size_.lower_bound({units, 0});  // best fit, lowest offset
  if (fit == free_by_size_.end()) {
    return fail(Status::kOutOfPoolMemory, "no free extent of %" PRIu64 " bytes (%" PRIu64 " bytes free in all)",
                units * kUnit, free_units_ * kUnit);
  }
  const auto [have, at] = *fit;
  free_by_size_.erase(fit);
  free_by_offset_.erase(at);
  if (have > units) {
    free_by_offset_.emplace(at + units * kUnit, have - units);
    free_by_size_.emplace(have - units, at + units * kUnit);
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
    free_by_size_.erase({next->second, next->first});
    next = free_by_offset_.erase(next);
  }
  if (next != free_by_offset_.begin()) {
    const auto prev = std::prev(next);
    if (prev->first + prev->second * kUnit == offset) {
      offset = prev->first;
      units += prev->second;
      free_by_size_.erase({prev->second, prev->first});
      free_by_offset_.erase(prev);
    }
  }
  free_by_offset_.emplace(offset, units);
  free_by_size_.emplace(units, offset);
}

// ---- checks ----

std::uint64_t PersistentHeap::entry_offset(std::uint64_t block) const noexcept {
  return table_offset_ + (block - heap_offset_) / kUnit * 8;
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

bool PersistentHeap::holds(std::uint64_t offset, std::uint64_t size) const noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  if (const auto live = live_.find(offset); live != live_.end()) return size <= live->second;
  const auto reserved = reserved_.find(offset);
  return reserved != reserved_.end() && size <= reserved->second * kUnit;
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
  std::uint64_t offset = 0;
  status = take_extent(units_for(size), &offset);
  if (status != Status::kOk) return status;
  reserved_.emplace(offset, units_for(size));
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
  const std::uint64_t index = (reservation.offset - heap_offset_) / kUnit;
  const std::uint64_t words[2][2] = {{entry_offset(reservation.offset), encode_entry(index, reservation.size)},
                                     {destination, reservation.offset}};
  status = redo(words, 2);
  reserved_.erase(found);
  live_.emplace(reservation.offset, reservation.size);
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
  give_extent(found->first, found->second);
  reserved_.erase(found);
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
  if (status != Status::kOk && reserved_.count(reservation.offset) != 0) {
    give_extent(reservation.offset, units_for(size));
    reserved_.erase(reservation.offset);
    return status;
  }
  *out = reservation.offset;
  return status;
}

Status PersistentHeap::free(std::uint64_t destination) noexcept {
  std::lock_guard<std::mutex> hold(lock_);
  Status status = check_no_transaction("free");
  if (status == Status::kOk) status = check_destination(destination);
  if (status != Status::kOk) return status;
  const std::uint64_t block = word(destination);
  const auto found = live_.find(block);
  if (block == 0 || found == live_.end()) {
    return fail(block == 0 ? Status::kDoubleFree : Status::kInvalidFree,
                "destination %" PRIu64 " holds %" PRIu64 ", which is no live block", destination, block);
  }
  const std::uint64_t words[2][2] = {{entry_offset(block), 0}, {destination, 0}};
  status = redo(words, 2);
  units_in_use_ -= units_for(found->second);
  bytes_in_use_ -= found->second;
  give_extent(block, units_for(found->second));
  live_.erase(found);
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
  std::uint64_t offset = 0;
  Status status = take_extent(units_for(size), &offset);
  if (status != Status::kOk) return status;
  status = log_undo(entry_offset(offset), 8);
  if (status != Status::kOk) {
    give_extent(offset, units_for(size));
    return status;
  }
  std::memset(address(offset), 0, size);
  word(entry_offset(offset)) = encode_entry((offset - heap_offset_) / kUnit, size);
  live_.emplace(offset, size);
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
  const Status status = log_undo(entry_offset(block), 8);
  if (status != Status::kOk) return status;
  word(entry_offset(block)) = 0;
  tx_freed_.push_back({block, found->second});
  units_in_use_ -= units_for(found->second);
  bytes_in_use_ -= found->second;
  live_.erase(found);
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
    live_.erase(block.offset);
    units_in_use_ -= units_for(block.length);
    bytes_in_use_ -= block.length;
    give_extent(block.offset, units_for(block.length));
  }
  for (const Undo& freed : tx_freed_) {
    live_.emplace(freed.offset, freed.length);
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
  const std::uint64_t* table = &word(table_offset_);
  std::uint64_t units = 0;
  std::uint64_t bytes = 0;
  for (const auto& [offset, size] : live_) {
    const std::uint64_t index = (offset - heap_offset_) / kUnit;
    if (offset < heap_offset_ || (offset - heap_offset_) % kUnit != 0 || index >= heap_units_ ||
        table[index] != encode_entry(index, size)) {
      return fail(Status::kCorrupted, "live block %" PRIu64 " (%" PRIu64 " bytes) is not in the table", offset, size);
    }
    units += units_for(size);
    bytes += size;
  }
  if (units != units_in_use_ || bytes != bytes_in_use_) {
    return fail(Status::kCorrupted, "counters say %" PRIu64 " bytes in use, the blocks %" PRIu64, bytes_in_use_, bytes);
  }
  // Live, reserved, freed-at-commit and free extents tile the heap exactly.
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
  std::uint64_t expected = heap_offset_;
  for (const auto& [offset, count] : extents) {
    if (offset != expected) {
      return fail(Status::kCorrupted, "the heap's extents leave a gap or overlap at offset %" PRIu64, expected);
    }
    expected += count * kUnit;
  }
  if (expected != heap_offset_ + heap_units_ * kUnit) {
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
  stats.heap_bytes = heap_units_ * kUnit;
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
  return stats;
}

}  // namespace nativepool
