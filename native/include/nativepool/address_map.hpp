// SPDX-License-Identifier: Apache-2.0
/// @file address_map.hpp
/// @brief AddressMap: an open-addressing hash map from addresses to nodes.
///
/// The variable pool looks up the header of every block it frees by address.
/// std::unordered_map allocates a node per insert and chases a pointer per
/// lookup; this map keeps keys and values inline in one power-of-two table
/// (linear probing, so a lookup usually touches one cache line) and never
/// allocates except when it grows.
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
  AddressMap() noexcept = default;
  ~AddressMap() {
    if (slots_ != empty_table()) delete[] slots_;
  }
  AddressMap(const AddressMap&) = delete;
  AddressMap& operator=(const AddressMap&) = delete;

  /// The value stored for @p key, or nullptr (always for key 0, which can
  /// never be inserted).
  [[nodiscard]] T* find(std::uintptr_t key) const noexcept {
    // Testing for the empty slot first is what makes key 0 safe: it must
    // never match an empty slot as if it were an entry.
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) return nullptr;
      if (slots_[i].key == key) return slots_[i].value;
    }
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
    std::size_t i = home(key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
    ++size_;
  }

  /// Removes @p key and returns its value, or returns nullptr if absent.
  T* take(std::uintptr_t key) noexcept {
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) return nullptr;
      if (slots_[i].key == key) {
        T* value = slots_[i].value;
        erase_at(i);
        return value;
      }
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Checks the probing invariant: every entry is reachable from its home
  /// slot without crossing an empty slot, keys are unique, the size matches,
  /// and the load stays under the growth threshold.
  [[nodiscard]] bool consistent() const noexcept {
    std::size_t entries = 0;
    for (std::size_t i = 0; i < capacity_; ++i) {
      const Slot& slot = slots_[i];
      if (slot.key == kEmpty) {
        if (slot.value != nullptr) return false;
        continue;
      }
      ++entries;
      for (std::size_t j = home(slot.key); j != i; j = (j + 1) & mask_) {
        if (slots_[j].key == kEmpty || slots_[j].key == slot.key) return false;
      }
    }
    return entries == size_ && size_ <= limit_;
  }

 private:
  struct Slot {
    std::uintptr_t key = kEmpty;
    T* value = nullptr;
  };

  // Addresses handed out by a pool are never 0, so 0 marks an empty slot and
  // a slot needs no separate occupied flag.
  static constexpr std::uintptr_t kEmpty = 0;
  // 2^64 / golden ratio (Fibonacci hashing). Block addresses share their low
  // bits (all are multiples of the granularity); the multiply mixes them
  // into the high bits, which select the slot.
  static constexpr std::uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
  static constexpr std::size_t kMinCapacity = 64;

  // A shared, never-written two-slot table lets a map that has not grown yet
  // answer find() without a null check on the lookup path. limit_ is 0 then,
  // so the first reserve() replaces it before anything is inserted.
  static Slot* empty_table() noexcept {
    static Slot table[2];
    return table;
  }

  [[nodiscard]] std::size_t home(std::uintptr_t key) const noexcept {
    return static_cast<std::size_t>((key * kMultiplier) >> shift_);
  }

  // Backward-shift deletion: instead of leaving a tombstone, pull later
  // entries of the same probe run into the hole, so lookups stay as short as
  // if the erased key had never been inserted.
  void erase_at(std::size_t hole) noexcept {
    for (std::size_t j = (hole + 1) & mask_; slots_[j].key != kEmpty; j = (j + 1) & mask_) {
      const std::size_t want = home(slots_[j].key);
      // The entry at j may move back to the hole only if the hole lies
      // between its home slot and j (cyclically); otherwise moving it would
      // put it before its home, where lookups never look.
      if (((j - want) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
  }

  // Growth is rare and allocates: kept out of line so reserve() inlines to a
  // compare.
  [[gnu::noinline]] bool grow(std::size_t count) noexcept {
    std::size_t capacity = capacity_ < kMinCapacity ? kMinCapacity : capacity_ * 2;
    while (max_load(capacity) < count) capacity *= 2;
    Slot* table = new (std::nothrow) Slot[capacity];
    if (table == nullptr) return false;
    Slot* old = slots_;
    const std::size_t old_capacity = capacity_;
    slots_ = table;
    capacity_ = capacity;
    mask_ = capacity - 1;
    shift_ = 64U - static_cast<unsigned>(std::bit_width(capacity) - 1);
    limit_ = max_load(capacity);
    size_ = 0;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      if (old[i].key != kEmpty) insert(old[i].key, old[i].value);
    }
    if (old != empty_table()) delete[] old;
    return true;
  }

  // Linear probing degrades quickly above ~70% load.
  static constexpr std::size_t max_load(std::size_t capacity) noexcept { return capacity * 7 / 10; }

  Slot* slots_ = empty_table();
  std::size_t capacity_ = 0;
  std::size_t mask_ = 1;
  unsigned shift_ = 63;
  std::size_t limit_ = 0;
  std::size_t size_ = 0;
};

}  // namespace nativepool
