// SPDX-License-Identifier: Apache-2.0
/// @file address_map.hpp
/// @brief AddressMap: an open-addressing hash map from addresses to nodes.
///
/// The variable pool looks up the header of every block it frees by address.
/// std::unordered_map allocates a node per insert and chases a pointer per
/// lookup; this map keeps keys and values inline in one power-of-two table
/// and never allocates except when it grows.
///
/// The table is made of buckets of seven slots, probed bucket by bucket. A
/// lookup compares the key with a whole bucket at once, and at the load the
/// map keeps nearly every key sits in its home bucket, so a find, an insert
/// and an erase each touch one bucket and take no data-dependent branch.
/// Slot-by-slot linear probing instead ends its probe and backward-shift
/// loops after a varying number of steps: a branch misprediction or two on
/// every operation, which used to cost more than the rest of a free.
///
/// The newest entry waits outside the table until the next insert: a block
/// freed right after it was allocated (the most common pattern of all) then
/// never reaches the table. Without that, the free would read the bucket the
/// insert has just written, through a chain of loads and stores that the
/// CPU cannot overlap.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>

namespace nativepool {

/// Maps non-zero addresses to T*. Not thread-safe: the owner serialises.
///
/// Insertion never allocates: callers reserve() first and only then insert,
/// so a pool can make sure all its metadata fits before it changes any state.
template <class T>
class AddressMap {
  static_assert(sizeof(std::uintptr_t) == 8, "the hash assumes 64-bit addresses");

 public:
  /// Slots per bucket: a bucket's keys and its overflow count fill one cache
  /// line, its values the next.
  static constexpr std::size_t kBucketSlots = 7;

  AddressMap() noexcept = default;
  ~AddressMap() {
    if (buckets_ != empty_table()) delete[] buckets_;
  }
  AddressMap(const AddressMap&) = delete;
  AddressMap& operator=(const AddressMap&) = delete;

  /// The value stored for @p key, or nullptr (always for key 0, which can
  /// never be inserted).
  [[nodiscard]] T* find(std::uintptr_t key) const noexcept {
    if (key == newest_key_ && key != kEmpty) return newest_value_;
    const Position at = locate(key);
    return at.bucket != nullptr ? at.bucket->values[at.slot] : nullptr;
  }

  /// Makes room for @p count entries in total, so that inserts up to that
  /// size cannot fail. False when the host is out of memory (map unchanged).
  [[nodiscard]] bool reserve(std::size_t count) noexcept {
    if (count <= limit_) [[likely]] return true;
    return grow(count);
  }

  /// Adds @p key (non-zero, absent) -> @p value. Requires reserve(size() + 1).
  void insert(std::uintptr_t key, T* value) noexcept {
    assert(key != kEmpty && size_ < limit_ && find(key) == nullptr);
    if (newest_key_ != kEmpty) place(newest_key_, newest_value_);
    newest_key_ = key;
    newest_value_ = value;
    ++size_;
  }

  /// Removes @p key and returns its value, or returns nullptr if absent.
  T* take(std::uintptr_t key) noexcept {
    if (key == newest_key_ && key != kEmpty) {
      T* value = newest_value_;
      newest_key_ = kEmpty;
      newest_value_ = nullptr;
      --size_;
      return value;
    }
    const Position at = locate(key);
    if (at.bucket == nullptr) return nullptr;
    T* value = at.bucket->values[at.slot];
    at.bucket->keys[at.slot] = kEmpty;
    at.bucket->values[at.slot] = nullptr;
    // No tombstone and no shifting: the buckets this key overflowed past
    // just count one overflowing key fewer.
    for (std::size_t b = home(key); &buckets_[b] != at.bucket; b = (b + 1) & mask_) --buckets_[b].overflow;
    --size_;
    return value;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Slots: a power of two buckets of kBucketSlots each.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Checks the probing invariant: every bucket's overflow count is the
  /// number of keys stored past it in their probe sequence, every key is
  /// found where it is stored (so keys are unique, the newest one too),
  /// empty slots hold no value, the size matches, and the load stays under
  /// the growth threshold.
  [[nodiscard]] bool consistent() const noexcept {
    std::size_t entries = 0;
    if (newest_key_ != kEmpty) {
      if (newest_value_ == nullptr || locate(newest_key_).bucket != nullptr) return false;
      ++entries;
    } else if (newest_value_ != nullptr) {
      return false;
    }
    const std::size_t buckets = capacity_ / kBucketSlots;
    std::size_t farthest = 0;  // the longest distance of a key from home
    for (std::size_t b = 0; b < buckets; ++b) {
      for (std::size_t slot = 0; slot < kBucketSlots; ++slot) {
        const std::uintptr_t key = buckets_[b].keys[slot];
        if (key == kEmpty) {
          if (buckets_[b].values[slot] != nullptr) return false;
          continue;
        }
        ++entries;
        const Position at = locate(key);
        if (at.bucket != &buckets_[b] || at.slot != slot) return false;
        const std::size_t distance = (b - home(key)) & mask_;
        if (distance > farthest) farthest = distance;
      }
    }
    // A key passes the buckets from its home up to its own; only keys at
    // most `farthest` buckets on can have passed bucket b.
    for (std::size_t b = 0; b < buckets; ++b) {
      std::size_t passing = 0;
      for (std::size_t ahead = 1; ahead <= farthest && ahead < buckets; ++ahead) {
        const Bucket& later = buckets_[(b + ahead) & mask_];
        for (const std::uintptr_t key : later.keys) {
          if (key != kEmpty && ((b + ahead - home(key)) & mask_) >= ahead) ++passing;
        }
      }
      if (passing != buckets_[b].overflow) return false;
    }
    return entries == size_ && size_ <= limit_;
  }

 private:
  struct alignas(64) Bucket {
    std::uintptr_t keys[kBucketSlots] = {};
    // Keys stored in a later bucket whose probe passed this one. Lookups
    // stop at the first bucket with none, so misses stay short too.
    std::size_t overflow = 0;
    T* values[kBucketSlots] = {};
  };
  static_assert(sizeof(Bucket) == 128);
  struct Position {
    Bucket* bucket;  // nullptr: absent
    std::size_t slot;
  };

  // Addresses handed out by a pool are never 0, so 0 marks an empty slot and
  // a slot needs no separate occupied flag.
  static constexpr std::uintptr_t kEmpty = 0;
  // 2^64 / golden ratio (Fibonacci hashing). Block addresses share their low
  // bits (all are multiples of the granularity); the multiply mixes them
  // into the high bits, which select the bucket.
  static constexpr std::uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
  static constexpr std::size_t kMinBuckets = 8;

  // A shared, never-written two-bucket table lets a map that has not grown
  // yet answer find() without a null check on the lookup path. limit_ is 0
  // then, so the first reserve() replaces it before anything is inserted.
  static Bucket* empty_table() noexcept {
    static Bucket table[2];
    return table;
  }

  [[nodiscard]] std::size_t home(std::uintptr_t key) const noexcept {
    return static_cast<std::size_t>((key * kMultiplier) >> shift_);
  }

  // One bit per slot of @p bucket that holds @p key. A fixed-length loop
  // without early exit, which compilers turn into a few vector compares.
  static std::uint32_t matches(const Bucket& bucket, std::uintptr_t key) noexcept {
    std::uint32_t bits = 0;
    for (std::size_t slot = 0; slot < kBucketSlots; ++slot) {
      bits |= static_cast<std::uint32_t>(bucket.keys[slot] == key) << slot;
    }
    return bits;
  }

  // Stores @p key in the first free slot from its home bucket on.
  void place(std::uintptr_t key, T* value) noexcept {
    std::size_t b = home(key);
    std::uint32_t free_slots = matches(buckets_[b], kEmpty);
    // The load limit guarantees a free slot; every full bucket passed on the
    // way records that a key overflowed past it.
    while (free_slots == 0) [[unlikely]] {
      ++buckets_[b].overflow;
      b = (b + 1) & mask_;
      free_slots = matches(buckets_[b], kEmpty);
    }
    const auto slot = static_cast<std::size_t>(std::countr_zero(free_slots));
    buckets_[b].keys[slot] = key;
    buckets_[b].values[slot] = value;
  }

  [[nodiscard]] Position locate(std::uintptr_t key) const noexcept {
    // Key 0 would match every empty slot.
    if (key == kEmpty) return {nullptr, 0};
    for (std::size_t b = home(key);; b = (b + 1) & mask_) {
      Bucket& bucket = buckets_[b];
      const std::uint32_t bits = matches(bucket, key);
      if (bits != 0) [[likely]] return {&bucket, static_cast<std::size_t>(std::countr_zero(bits))};
      if (bucket.overflow == 0) return {nullptr, 0};
    }
  }

  // Growth is rare and allocates: kept out of line so reserve() inlines to a
  // compare.
  [[gnu::noinline]] bool grow(std::size_t count) noexcept {
    const std::size_t old_buckets = capacity_ / kBucketSlots;
    std::size_t buckets = old_buckets < kMinBuckets ? kMinBuckets : old_buckets * 2;
    while (max_load(buckets * kBucketSlots) < count) buckets *= 2;
    auto* table = new (std::nothrow) Bucket[buckets];
    if (table == nullptr) return false;
    Bucket* old = buckets_;
    buckets_ = table;
    capacity_ = buckets * kBucketSlots;
    mask_ = buckets - 1;
    shift_ = 64U - static_cast<unsigned>(std::bit_width(mask_));
    limit_ = max_load(capacity_);
    for (std::size_t b = 0; b < old_buckets; ++b) {
      for (std::size_t slot = 0; slot < kBucketSlots; ++slot) {
        if (old[b].keys[slot] != kEmpty) place(old[b].keys[slot], old[b].values[slot]);
      }
    }
    if (old != empty_table()) delete[] old;
    return true;
  }

  // At this load few buckets overflow, so nearly every operation stays in
  // its home bucket.
  static constexpr std::size_t max_load(std::size_t capacity) noexcept { return capacity * 7 / 10; }

  Bucket* buckets_ = empty_table();
  std::size_t capacity_ = 0;
  std::size_t mask_ = 1;  // buckets - 1
  unsigned shift_ = 63;
  std::size_t limit_ = 0;
  std::size_t size_ = 0;  // the newest entry included
  std::uintptr_t newest_key_ = kEmpty;
  T* newest_value_ = nullptr;
};

}  // namespace nativepool
