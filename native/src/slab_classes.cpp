// SPDX-License-Identifier: Apache-2.0
#include "nativepool/slab_classes.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cinttypes>
#include <new>
#include <thread>
#include <utility>

#include "nativepool/variable_pool.hpp"

namespace nativepool::detail {

namespace {

std::atomic_ref<std::uint64_t> atomic(std::uint64_t& word) noexcept { return std::atomic_ref<std::uint64_t>(word); }
std::uint64_t load(const std::uint64_t& word) noexcept {
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word)).load(std::memory_order_acquire);
}

// A claim, as any thread may take it: false if the block is claimed already.
bool claim(std::uint8_t& byte) noexcept {
  std::uint8_t unclaimed = 0;
  return std::atomic_ref<std::uint8_t>(byte).compare_exchange_strong(unclaimed, 1, std::memory_order_acq_rel,
                                                                     std::memory_order_relaxed);
}
void unclaim(std::uint8_t& byte) noexcept { std::atomic_ref<std::uint8_t>(byte).store(0, std::memory_order_release); }

// Under the lock, the claim of a free block about to be taken. Only a park
// can hold it (the locked free claims allocated blocks, under the lock): a
// double free that claimed first and lets go once it reads the block free,
// a few instructions later. So wait for it; yielding, in case that thread
// lost its processor in between.
[[gnu::noinline]] void wait_and_claim(std::uint8_t& byte) noexcept {
  for (unsigned spins = 0; !claim(byte); ++spins) {
    if (spins >= 64) std::this_thread::yield();
  }
}

}  // namespace

std::uint64_t SlabClasses::handle_of(const Slab* slab, std::size_t index) noexcept {
  return reinterpret_cast<std::uintptr_t>(slab) << kIndexBits | index;
}

SlabClasses::SlabClasses(std::size_t granularity, std::size_t arena_size, std::size_t limit, bool parking) noexcept
    : granularity_(granularity), granularity_shift_(floor_log2(granularity)), parking_(parking) {
  if (!serve_any(granularity, arena_size, limit)) return;
  // Every granule up to kFineLimit, then kClassesPerDoubling to a doubling
  // (never closer than the granularity), up to the last class the limit holds.
  for (std::size_t size = granularity_; size <= std::min(limit, kMaxLimit);) {
    Class& c = classes_[count_];
    c.size = size;
    c.blocks = static_cast<std::uint32_t>(kSlabBytes / size);
    c.words = (c.blocks + 63) / 64;
    c.by_size = ExactDivider(size);
    for (std::size_t granule = limit_ >> granularity_shift_; granule < size >> granularity_shift_; ++granule) {
      class_of_[granule] = static_cast<std::uint8_t>(count_);
    }
    limit_ = size;
    ++count_;
    size += size < kFineLimit ? granularity_ : std::max(granularity_, std::bit_floor(size) / kClassesPerDoubling);
  }
}

SlabClasses::~SlabClasses() {
  for (Class& c : classes_) {
    for (Slab* list : {c.partial, c.full, c.spare}) {
      while (list != nullptr) {
        Slab* slab = list;
        list = slab->next;
        ::operator delete(slab);
      }
    }
  }
}

Status SlabClasses::check_limit(std::size_t limit) noexcept {
  if (limit > kMaxLimit) {
    return fail(Status::kInvalidArgument, "variable pool: slab_limit %zu exceeds %zu (0: no slabs)", limit,
                kMaxLimit);
  }
  return Status::kOk;
}

bool SlabClasses::take(Tlsf& tlsf, std::size_t cls, Slab** out, std::uint32_t* index) noexcept {
  Class& c = classes_[cls];
  if (c.partial == nullptr) [[unlikely]] {
    if (!carve(tlsf, cls)) return false;
  }
  Slab* slab = c.partial;
  std::uint64_t* bits = slab->bits();
  std::uint32_t word = slab->hint;
  while (bits[word] == 0) ++word;  // the slab has a free block, so this ends
  const auto bit = static_cast<unsigned>(std::countr_zero(bits[word]));
  // Claimed before the free bit clears, so that a park which claimed the
  // free block first has let go of it, and one that claims it later sees
  // it taken; take_parked() keeps the claim, allocate() lets go of it.
  if (parking_) {
    std::uint8_t& byte = slab->claims(c.words)[word * 64 + bit];
    if (!claim(byte)) [[unlikely]] wait_and_claim(byte);
  }
  atomic(bits[word]).store(bits[word] & (bits[word] - 1), std::memory_order_relaxed);
  slab->hint = word;
  if (slab == c.empty) c.empty = nullptr;
  --free_blocks_;
  free_bytes_ -= c.size;
  if (--slab->free == 0) move(slab, &c.partial, &c.full);
  *out = slab;
  *index = word * 64 + bit;
  return true;
}

bool SlabClasses::allocate(Tlsf& tlsf, std::size_t size, void** out) noexcept {
  const std::size_t cls = class_of(size);
  Slab* slab = nullptr;
  std::uint32_t index = 0;
  if (!take(tlsf, cls, &slab, &index)) [[unlikely]] return false;
  // Allocated now as the free bit says: any park may claim it from here on.
  if (parking_) unclaim(slab->claims(classes_[cls].words)[index]);
  *out = reinterpret_cast<void*>(slab->base + index * classes_[cls].size);
  return true;
}

// With thread caches, the block is claimed first: a park racing this free
// (or a block parked already) then fails its claim, or this one does.
Status SlabClasses::deallocate(Tlsf& tlsf, Slab* slab, void* ptr, std::size_t* freed_size) noexcept {
  Class& c = classes_[slab->cls];
  const std::size_t offset = reinterpret_cast<std::uintptr_t>(ptr) - slab->base;
  const std::size_t index = c.by_size.divide(offset);
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  if (index * c.size != offset || index >= c.blocks || (slab->bits()[index / 64] & bit) != 0) [[unlikely]] {
    return bad_free(slab, ptr);
  }
  if (parking_) {
    if (!claim(slab->claims(c.words)[index])) {
      return fail(Status::kDoubleFree, "0x%" PRIxPTR " is already free (parked in a thread cache)",
                  reinterpret_cast<std::uintptr_t>(ptr));
    }
  }
  if (freed_size != nullptr) *freed_size = c.size;
  put(tlsf, slab, index);
  return Status::kOk;
}

void SlabClasses::put(Tlsf& tlsf, Slab* slab, std::size_t index) noexcept {
  Class& c = classes_[slab->cls];
  std::uint64_t& word = slab->bits()[index / 64];
  const std::uint64_t bit = std::uint64_t{1} << (index % 64);
  atomic(word).store(word | bit, std::memory_order_relaxed);
  // Unclaimed after the free bit is set (release): a park that claims it
  // next sees the block free.
  if (parking_) unclaim(slab->claims(c.words)[index]);
  slab->hint = std::min(slab->hint, static_cast<std::uint32_t>(index / 64));
  ++free_blocks_;
  free_bytes_ += c.size;
  if (slab->free++ == 0) move(slab, &c.full, &c.partial);
  if (slab->free == c.blocks) [[unlikely]] {
    if (c.empty == nullptr) {
      c.empty = slab;
    } else {
      release(tlsf, slab);
    }
  }
}

// Lock-free: the directory and the records are never freed while the pool
// lives, so a stale or foreign address reads valid memory and fails a check.
bool SlabClasses::park(const void* ptr, std::uint64_t* handle, std::size_t* cls) noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  const std::uintptr_t base = address & ~(kSlabBytes - 1);
  Slab* slab = slabs_.find(base);
  if (slab == nullptr) return false;
  const Class& c = classes_[slab->cls];  // a record serves one class for life
  const std::size_t offset = address - base;
  const std::size_t index = c.by_size.divide(offset);
  if (index * c.size != offset || index >= c.blocks) [[unlikely]] return false;
  std::uint8_t& byte = slab->claims(c.words)[index];
  if (!claim(byte)) [[unlikely]] return false;
  // Claimed, so no locked free of this block can run now, nor a take of it
  // (which claims first); a free block, or a record since reused for
  // another slab, is not ours to park.
  if ((load(slab->bits()[index / 64]) >> (index % 64) & 1) != 0 ||
      std::atomic_ref<std::uintptr_t>(slab->base).load(std::memory_order_acquire) != base) [[unlikely]] {
    unclaim(byte);
    return false;
  }
  *handle = handle_of(slab, index);
  *cls = slab->cls;
  return true;
}

std::uintptr_t SlabClasses::slab_base(std::uint64_t handle) noexcept {
  return std::atomic_ref<std::uintptr_t>(reinterpret_cast<Slab*>(handle >> kIndexBits)->base)
      .load(std::memory_order_relaxed);
}

std::size_t SlabClasses::take_parked(Tlsf& tlsf, std::size_t cls, std::uint64_t* out, std::size_t max) noexcept {
  std::size_t taken = 0;
  for (Slab* slab = nullptr; taken < max; ++taken) {
    std::uint32_t index = 0;
    if (!take(tlsf, cls, &slab, &index)) break;  // claimed, so parked
    out[taken] = handle_of(slab, index);
  }
  return taken;
}

void SlabClasses::release_parked(Tlsf& tlsf, const std::uint64_t* handles, std::size_t count) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    put(tlsf, reinterpret_cast<Slab*>(handles[i] >> kIndexBits),
        handles[i] & kIndexMask);
  }
}

std::size_t SlabClasses::claimed() const noexcept {
  std::size_t claimed = 0;
  for (std::size_t cls = 0; cls < count_; ++cls) {
    const Class& c = classes_[cls];
    for (const Slab* list : {c.partial, c.full}) {
      for (const Slab* slab = list; slab != nullptr; slab = slab->next) {
        const std::uint8_t* claims = slab->claims(c.words);
        claimed += c.blocks - static_cast<std::size_t>(std::count(claims, claims + c.blocks, std::uint8_t{0}));
      }
    }
  }
  return claimed;
}

bool SlabClasses::release_empty(Tlsf& tlsf) noexcept {
  bool released = false;
  for (std::size_t cls = 0; cls < count_; ++cls) {
    Class& c = classes_[cls];
    if (c.empty != nullptr) {
      release(tlsf, std::exchange(c.empty, nullptr));
      released = true;
    }
  }
  return released;
}

// Runs of set bits in each partial slab's bitmap: a run's blocks are
// contiguous free memory, as a TLSF free block is.
void SlabClasses::release_free_pages(Tlsf& tlsf) const noexcept {
  for (std::size_t cls = 0; cls < count_; ++cls) {
    const Class& c = classes_[cls];
    for (const Slab* slab = c.partial; slab != nullptr; slab = slab->next) {
      const std::uint64_t* bits = slab->bits();
      for (std::uint32_t i = 0; i < c.blocks;) {
        if ((bits[i / 64] >> (i % 64) & 1) == 0) {
          ++i;
          continue;
        }
        const std::uint32_t first = i;
        while (i < c.blocks && (bits[i / 64] >> (i % 64) & 1) != 0) ++i;
        if ((i - first) * c.size >= Tlsf::kSmallestPage) tlsf.release_pages(slab->base + first * c.size, (i - first) * c.size);
      }
    }
  }
}

// Everything the carve needs is secured before TLSF hands out the slab, so a
// failure leaves both unchanged.
bool SlabClasses::carve(Tlsf& tlsf, std::size_t cls) noexcept {
  Class& c = classes_[cls];
  // A released slab's record, whose claims are all clear; else a new one.
  Slab* slab = c.spare;
  if (slab == nullptr) {
    const std::size_t claim_bytes = parking_ ? c.blocks : 0;
    void* record = ::operator new(sizeof(Slab) + c.words * sizeof(std::uint64_t) + claim_bytes, std::nothrow);
    if (record == nullptr) return false;
    if (reinterpret_cast<std::uintptr_t>(record) >> (64 - kIndexBits) != 0) {  // no room for a handle
      ::operator delete(record);
      return false;
    }
    slab = new (record) Slab{0, nullptr, nullptr, 0, 0, static_cast<std::uint16_t>(cls)};
    std::fill(slab->claims(c.words), slab->claims(c.words) + claim_bytes, std::uint8_t{0});
  } else {
    remove(slab, &c.spare);
  }
  void* memory = nullptr;
  if (tlsf.allocate(kSlabBytes, kSlabBytes, &memory) != Status::kOk ||
      !slabs_.insert(reinterpret_cast<std::uintptr_t>(memory), slab)) {
    if (memory != nullptr) static_cast<void>(tlsf.deallocate(memory, nullptr));
    push(slab, &c.spare);
    return false;
  }
  slab->free = c.blocks;
  slab->hint = 0;
  std::uint64_t* bits = slab->bits();
  for (std::uint32_t w = 0; w < c.words; ++w) {
    const std::uint64_t all = w + 1 < c.words || c.blocks % 64 == 0 ? ~std::uint64_t{0}
                                                                     : (std::uint64_t{1} << (c.blocks % 64)) - 1;
    atomic(bits[w]).store(all, std::memory_order_relaxed);
  }
  // Last: a park that finds the record through the directory before this
  // store sees the old base and leaves the block alone.
  std::atomic_ref<std::uintptr_t>(slab->base).store(reinterpret_cast<std::uintptr_t>(memory),
                                                    std::memory_order_release);
  push(slab, &c.partial);
  free_blocks_ += c.blocks;
  free_bytes_ += kSlabBytes;  // the blocks and the tail
  return true;
}

void SlabClasses::release(Tlsf& tlsf, Slab* slab) noexcept {
  Class& c = classes_[slab->cls];
  remove(slab, &c.partial);
  slabs_.erase(slab->base);
  free_blocks_ -= c.blocks;
  free_bytes_ -= kSlabBytes;
  released_[released_next_] = Released{slab->base, slab->cls};
  released_next_ = (released_next_ + 1) % kRemembered;
  const Status status = tlsf.deallocate(reinterpret_cast<void*>(slab->base), nullptr);
  static_cast<void>(status);  // a live TLSF block since the carve: validate() checks it
  push(slab, &c.spare);  // kept: a park may still read it
}

void SlabClasses::push(Slab* slab, Slab** list) noexcept {
  slab->prev = nullptr;
  slab->next = *list;
  if (*list != nullptr) (*list)->prev = slab;
  *list = slab;
}

void SlabClasses::remove(Slab* slab, Slab** list) noexcept {
  if (slab->prev != nullptr) {
    slab->prev->next = slab->next;
  } else {
    *list = slab->next;
  }
  if (slab->next != nullptr) slab->next->prev = slab->prev;
}

void SlabClasses::move(Slab* slab, Slab** from, Slab** to) noexcept {
  remove(slab, from);
  push(slab, to);
}

Status SlabClasses::bad_free(const Slab* slab, const void* ptr) const noexcept {
  const Class& c = classes_[slab->cls];
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  const std::size_t index = (address - slab->base) / c.size;
  const std::uintptr_t start = slab->base + index * c.size;
  if (index >= c.blocks) {
    return fail(Status::kInvalidFree, "0x%" PRIxPTR " lies in the unused tail of a %zu-byte slab at 0x%" PRIxPTR,
                address, c.size, slab->base);
  }
  const bool free = (slab->bits()[index / 64] >> (index % 64) & 1) != 0;
  if (address == start) return fail(Status::kDoubleFree, "0x%" PRIxPTR " is already free", address);
  if (free) {
    return fail(Status::kInvalidFree,
                "0x%" PRIxPTR " is not a block in use: it lies %zu bytes into the free block at 0x%" PRIxPTR,
                address, address - start, start);
  }
  return fail(Status::kInvalidFree, "0x%" PRIxPTR " points %zu bytes into the block at 0x%" PRIxPTR " (size %zu)",
              address, address - start, start, c.size);
}

bool SlabClasses::was_block(const void* ptr) const noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  // Newest first: the same space may have been a slab of another class since.
  for (std::size_t age = 1; age <= kRemembered; ++age) {
    const Released& slab = released_[(released_next_ + kRemembered - age) % kRemembered];
    if (slab.base == 0 || address - slab.base >= kSlabBytes) continue;
    const Class& c = classes_[slab.cls];
    const std::size_t offset = address - slab.base;
    return offset % c.size == 0 && offset / c.size < c.blocks;
  }
  return false;
}

std::size_t SlabClasses::block_size(const Slab* slab, const void* ptr) const noexcept {
  const Class& c = classes_[slab->cls];
  const std::size_t offset = reinterpret_cast<std::uintptr_t>(ptr) - slab->base;
  const std::size_t index = c.by_size.divide(offset);
  if (index * c.size != offset || index >= c.blocks) return 0;
  return (slab->bits()[index / 64] >> (index % 64) & 1) != 0 ? 0 : c.size;
}

Fragmentation SlabClasses::fragmentation(const Tlsf& tlsf) const noexcept {
  Fragmentation f = tlsf.fragmentation();
  if (free_bytes_ == 0) return f;
  f.free_bytes += free_bytes_;
  f.free_blocks += free_blocks_;
  for (std::size_t cls = count_; cls-- > 0;) {
    if (classes_[cls].partial != nullptr) {
      f.largest_free_block = std::max<std::uint64_t>(f.largest_free_block, classes_[cls].size);
      break;
    }
  }
  f.external_fragmentation = 1.0 - static_cast<double>(f.largest_free_block) / static_cast<double>(f.free_bytes);
  return f;
}

std::size_t SlabClasses::snapshot_runs() const noexcept {
  std::size_t runs = 0;
  for (std::size_t cls = 0; cls < count_; ++cls) {
    const Class& c = classes_[cls];
    for (const Slab* list : {c.partial, c.full}) {
      for (const Slab* slab = list; slab != nullptr; slab = slab->next) runs += c.blocks + 1;
    }
  }
  return runs;
}

bool SlabClasses::snapshot(std::uintptr_t base, std::uintptr_t region_base, MemorySnapshot* out) const noexcept {
  const Slab* slab = slabs_.find(base);
  if (slab == nullptr) return false;
  const Class& c = classes_[slab->cls];
  const std::uint64_t offset = base - region_base;
  for (std::uint32_t i = 0; i < c.blocks; ++i) {
    const bool free = (slab->bits()[i / 64] >> (i % 64) & 1U) != 0;
    out->add(SnapshotRun{.offset = offset + std::uint64_t{i} * c.size,
                         .size = c.size,
                         .state = free ? BlockState::kFree : BlockState::kLive});
  }
  // The bytes the class size does not divide: free, as fragmentation() counts them.
  const std::uint64_t used = std::uint64_t{c.blocks} * c.size;
  if (used != kSlabBytes) {
    out->add(SnapshotRun{.offset = offset + used, .size = kSlabBytes - used, .state = BlockState::kFree});
  }
  return true;
}

// Walks every slab through its class's lists: each must be where its count
// puts it, agree with its bitmap and the map, and be a live TLSF block.
Status SlabClasses::validate(const Tlsf& tlsf) const noexcept {
  std::size_t slabs = 0;
  std::size_t free_blocks = 0;
  std::size_t free_bytes = 0;
  for (std::size_t cls = 0; cls < count_; ++cls) {
    const Class& c = classes_[cls];
    bool empty_listed = c.empty == nullptr;
    for (const Slab* list : {c.partial, c.full}) {
      for (const Slab* slab = list; slab != nullptr; slab = slab->next) {
        empty_listed = empty_listed || slab == c.empty;
        std::size_t free = 0;
        bool hinted = slab->hint < c.words;
        for (std::uint32_t w = 0; w < c.words; ++w) {
          free += static_cast<std::size_t>(std::popcount(slab->bits()[w]));
          if (w < slab->hint && slab->bits()[w] != 0) hinted = false;
        }
        const bool listed_right = (list == c.partial) == (slab->free != 0);
        // Only the one slab the class keeps may have every block free.
        const bool empty_right = (free == c.blocks) == (slab == c.empty);
        if (slab->cls != cls || free != slab->free || free > c.blocks || !empty_right || !hinted || !listed_right ||
            (slab->next != nullptr && slab->next->prev != slab) || slabs_.find(slab->base) != slab) {
          return fail(Status::kCorrupted,
                      "the %zu-byte slab at 0x%" PRIxPTR " counts %u free blocks, its bitmap %zu (hint %u, %s list)",
                      c.size, slab->base, slab->free, free, slab->hint, list == c.partial ? "partial" : "full");
        }
        if (tlsf.block_size(reinterpret_cast<const void*>(slab->base)) != kSlabBytes) {
          return fail(Status::kCorrupted, "the slab at 0x%" PRIxPTR " is not a live %zu-byte TLSF block",
                      slab->base, kSlabBytes);
        }
        ++slabs;
        free_blocks += free;
        free_bytes += kSlabBytes - (c.blocks - free) * c.size;
      }
    }
    if (!empty_listed) {
      return fail(Status::kCorrupted, "the empty %zu-byte slab the class keeps is in neither of its lists", c.size);
    }
  }
  if (slabs != slabs_.size() || free_blocks != free_blocks_ || free_bytes != free_bytes_) {
    return fail(Status::kCorrupted,
                "slabs: %zu listed, %zu mapped; %zu free blocks (%zu bytes), counted %zu (%zu bytes)", slabs,
                slabs_.size(), free_blocks, free_bytes, free_blocks_, free_bytes_);
  }
  return Status::kOk;
}

}  // namespace nativepool::detail
