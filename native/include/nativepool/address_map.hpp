// SPDX-License-Identifier: Apache-2.0
/// @file address_map.hpp
/// @brief AddressMap: an open-addressing hash map from addresses to 32-bit
/// node indices, in about five bytes a slot.
///
/// The variable pool looks up the node of every block it frees by address.
/// std::unordered_map allocates a node per insert and chases a pointer per
/// lookup; this map keeps its entries inline in one power-of-two table and
/// never allocates except when it grows.
///
/// It stores no keys. A slot holds a node index and one byte of the key's
/// hash (its tag); the owner's KeyOf reads a candidate's key from its node,
/// which a free reads next anyway. A slot costs 5 bytes instead of the 16 of
/// an address and a pointer: at the table's load, 8-14 bytes per entry
/// instead of 26-52, which is most of what a live block's metadata costs.
///
/// The table is made of groups of twelve slots, one cache line each, probed
/// group by group. A lookup compares the tag with a whole group at once, and
/// at the load the map keeps nearly every key sits in its home group, so a
/// find, an insert and an erase each touch one line of the table and take
/// no data-dependent branch. Slot-by-slot linear probing instead ends its
/// probe and backward-shift loops after a varying number of steps: a branch
/// misprediction or two on every operation, which used to cost more than
/// the rest of a free. A tag matches another key's slot with odds of 1 in
/// 255, so a lookup reads a wrong node about once in fifty.
///
/// The newest entry waits outside the table until the next insert: a block
/// freed right after it was allocated (the most common pattern of all) then
/// never reaches the table. Without that, the free would read the group the
/// insert has just written, through a chain of loads and stores that the
/// CPU cannot overlap.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "nativepool/metadata_pages.hpp"

namespace nativepool {

namespace detail {

/// One bit per byte of @p bytes[0..11] that equals @p value, bit i for byte
/// i, portably: each half's equal bytes become zero bytes, which the exact
/// zero-byte test marks with their top bit (the usual `x - 0x01..` test
/// also marks bytes above a zero one), and a multiply gathers those marks
/// into the result's low bits.
inline std::uint32_t match_bytes12_swar(const std::uint8_t* bytes, std::uint8_t value) noexcept {
  constexpr std::uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
  const auto marks = [](std::uint64_t x) {
    const std::uint64_t zero = ~(((x & kLow7) + kLow7) | x | kLow7);  // 0x80 where a byte of x is 0
    return static_cast<std::uint32_t>(((zero >> 7) * 0x0102040810204080ULL) >> 56);
  };
  std::uint64_t low = 0;
  std::uint32_t high = 0;
  std::memcpy(&low, bytes, sizeof low);
  std::memcpy(&high, bytes + 8, sizeof high);
  const std::uint64_t pattern = 0x0101010101010101ULL * value;
  // The four bytes above the high half's are set, so they never match.
  const std::uint64_t high_word = (high ^ static_cast<std::uint32_t>(pattern)) | 0xFFFFFFFF00000000ULL;
  return marks(low ^ pattern) | marks(high_word) << 8;
}

/// match_bytes12_swar() with SSE2 where the target has it: one compare of
/// sixteen bytes, of which the mask keeps twelve. @p bytes must be readable
/// for sixteen bytes.
inline std::uint32_t match_bytes12(const std::uint8_t* bytes, std::uint8_t value) noexcept {
#if defined(__SSE2__)
  const __m128i line = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const int equal = _mm_movemask_epi8(_mm_cmpeq_epi8(line, _mm_set1_epi8(static_cast<char>(value))));
  return static_cast<std::uint32_t>(equal) & 0xFFFU;
#else
  return match_bytes12_swar(bytes, value);
#endif
}

}  // namespace detail

/// Maps non-zero addresses to non-zero 32-bit indices. Not thread-safe: the
/// owner serialises.
///
/// @tparam KeyOf a copyable callable, `std::uintptr_t(std::uint32_t index)`:
/// the key stored for an index in the map. The map asks it for the keys of
/// the slots whose tags match, and for every key when it grows.
///
/// Insertion never allocates: callers reserve() first and only then insert,
/// so a pool can make sure all its metadata fits before it changes any state.
template <class KeyOf>
class AddressMap {
  static_assert(sizeof(std::uintptr_t) == 8, "the hash assumes 64-bit addresses");

 public:
  using Index = std::uint32_t;
  /// What find() and take() return for an absent key; never a value.
  static constexpr Index kAbsent = 0;
  /// Slots per group: a group's tags, its overflow count and its values
  /// fill one cache line.
  static constexpr std::size_t kGroupSlots = 12;

  explicit AddressMap(KeyOf key_of) noexcept : key_of_(key_of) {}
  ~AddressMap() {
    if (groups_ != empty_table()) detail::unmap_metadata(groups_, table_bytes());
  }
  AddressMap(const AddressMap&) = delete;
  AddressMap& operator=(const AddressMap&) = delete;

  /// The index stored for @p key, or kAbsent (always for key 0, which can
  /// never be inserted).
  [[nodiscard]] Index find(std::uintptr_t key) const noexcept {
    if (key == newest_key_ && key != kEmptyKey) return newest_value_;
    const Position at = locate(key);
    return at.group != nullptr ? at.group->values[at.slot] : kAbsent;
  }

  /// Makes room for @p count entries in total, so that inserts up to that
  /// size cannot fail. False when the host is out of memory (map unchanged).
  [[nodiscard]] bool reserve(std::size_t count) noexcept {
    if (count <= limit_) [[likely]] return true;
    return grow(count);
  }

  /// Adds @p key (non-zero, absent) -> @p value (non-zero, and key_of(value)
  /// is @p key). Requires reserve(size() + 1).
  void insert(std::uintptr_t key, Index value) noexcept {
    assert(key != kEmptyKey && value != kAbsent && size_ < limit_ && find(key) == kAbsent);
    if (newest_key_ != kEmptyKey) place(newest_key_, newest_value_);
    newest_key_ = key;
    newest_value_ = value;
    ++size_;
  }

  /// Removes @p key and returns its index, or returns kAbsent.
  Index take(std::uintptr_t key) noexcept {
    if (key == newest_key_ && key != kEmptyKey) {
      const Index value = newest_value_;
      newest_key_ = kEmptyKey;
      newest_value_ = kAbsent;
      --size_;
      return value;
    }
    const Position at = locate(key);
    if (at.group == nullptr) return kAbsent;
    const Index value = at.group->values[at.slot];
    at.group->tags[at.slot] = kEmptyTag;
    at.group->values[at.slot] = kAbsent;
    // No tombstone and no shifting: the groups this key overflowed past
    // just count one overflowing key fewer.
    for (std::size_t g = home(hash(key)); &groups_[g] != at.group; g = (g + 1) & mask_) --groups_[g].overflow;
    --size_;
    return value;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Slots: a power of two groups of kGroupSlots each.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Bytes of the table (what the map costs beyond its own object).
  [[nodiscard]] std::size_t table_bytes() const noexcept { return capacity_ / kGroupSlots * sizeof(Group); }

  /// Checks the probing invariant: every slot's tag is its key's, every key
  /// is found where it is stored (so keys are unique, the newest one too),
  /// empty slots hold no value, every group's overflow count is the number
  /// of keys stored past it in their probe sequence, the size matches, and
  /// the load stays under the growth threshold.
  [[nodiscard]] bool consistent() const noexcept {
    std::size_t entries = 0;
    if (newest_key_ != kEmptyKey) {
      if (newest_value_ == kAbsent || key_of_(newest_value_) != newest_key_ || locate(newest_key_).group != nullptr) {
        return false;
      }
      ++entries;
    } else if (newest_value_ != kAbsent) {
      return false;
    }
    const std::size_t groups = capacity_ / kGroupSlots;
    std::size_t farthest = 0;  // the longest distance of a key from home
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t slot = 0; slot < kGroupSlots; ++slot) {
        const Index value = groups_[g].values[slot];
        if (groups_[g].tags[slot] == kEmptyTag) {
          if (value != kAbsent) return false;
          continue;
        }
        if (value == kAbsent) return false;
        ++entries;
        const std::uintptr_t key = key_of_(value);
        if (key == kEmptyKey || groups_[g].tags[slot] != tag(hash(key))) return false;
        const Position at = locate(key);
        if (at.group != &groups_[g] || at.slot != slot) return false;
        const std::size_t distance = (g - home(hash(key))) & mask_;
        if (distance > farthest) farthest = distance;
      }
    }
    // A key passes the groups from its home up to its own; only keys at
    // most `farthest` groups on can have passed group g.
    for (std::size_t g = 0; g < groups; ++g) {
      std::size_t passing = 0;
      for (std::size_t ahead = 1; ahead <= farthest && ahead < groups; ++ahead) {
        const Group& later = groups_[(g + ahead) & mask_];
        for (std::size_t slot = 0; slot < kGroupSlots; ++slot) {
          if (later.tags[slot] == kEmptyTag) continue;
          if (((g + ahead - home(hash(key_of_(later.values[slot])))) & mask_) >= ahead) ++passing;
        }
      }
      if (passing != groups_[g].overflow) return false;
    }
    return entries == size_ && size_ <= limit_;
  }

 private:
  struct alignas(64) Group {
    std::uint8_t tags[kGroupSlots] = {};
    // Keys stored in a later group whose probe passed this one. Lookups
    // stop at the first group with none, so misses stay short too.
    std::uint32_t overflow = 0;
    Index values[kGroupSlots] = {};
  };
  static_assert(sizeof(Group) == 64);
  struct Position {
    Group* group;  // nullptr: absent
    std::size_t slot;
  };

  // Addresses handed out by a pool are never 0, so 0 marks the empty newest
  // entry; tags are never 0, so 0 marks an empty slot.
  static constexpr std::uintptr_t kEmptyKey = 0;
  static constexpr std::uint8_t kEmptyTag = 0;
  // 2^64 / golden ratio (Fibonacci hashing). Block addresses share their low
  // bits (all are multiples of the granularity); the multiply mixes them
  // into the high bits, which select the group, and the byte below them,
  // which is the tag.
  static constexpr std::uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
  // One page.
  static constexpr std::size_t kMinGroups = 4096 / sizeof(Group);

  // A shared, never-written two-group table lets a map that has not grown
  // yet answer find() without a null check on the lookup path. limit_ is 0
  // then, so the first reserve() replaces it before anything is inserted.
  static Group* empty_table() noexcept {
    static Group table[2];
    return table;
  }

  static std::uint64_t hash(std::uintptr_t key) noexcept { return key * kMultiplier; }
  [[nodiscard]] std::size_t home(std::uint64_t hash) const noexcept {
    return static_cast<std::size_t>(hash >> shift_);
  }
  // Bits 24-31 of the hash: below the group bits of any table under 2^32
  // groups, and never 0.
  static std::uint8_t tag(std::uint64_t hash) noexcept {
    const auto byte = static_cast<std::uint8_t>(hash >> 24);
    return byte != kEmptyTag ? byte : std::uint8_t{1};
  }

  // One bit per slot of @p group whose tag is @p t, from one compare of the
  // group's first sixteen bytes (its tags and overflow count).
  static std::uint32_t matches(const Group& group, std::uint8_t t) noexcept {
    static_assert(kGroupSlots == 12 && offsetof(Group, tags) == 0 && offsetof(Group, values) >= 16);
    return detail::match_bytes12(group.tags, t);
  }

  // Stores @p key in the first free slot from its home group on.
  void place(std::uintptr_t key, Index value) noexcept {
    const std::uint64_t h = hash(key);
    std::size_t g = home(h);
    std::uint32_t free_slots = matches(groups_[g], kEmptyTag);
    // The load limit guarantees a free slot; every full group passed on the
    // way records that a key overflowed past it.
    while (free_slots == 0) [[unlikely]] {
      ++groups_[g].overflow;
      g = (g + 1) & mask_;
      free_slots = matches(groups_[g], kEmptyTag);
    }
    const auto slot = static_cast<std::size_t>(std::countr_zero(free_slots));
    groups_[g].tags[slot] = tag(h);
    groups_[g].values[slot] = value;
  }

  [[nodiscard]] Position locate(std::uintptr_t key) const noexcept {
    // Key 0 is never stored.
    if (key == kEmptyKey) return {nullptr, 0};
    const std::uint64_t h = hash(key);
    const std::uint8_t t = tag(h);
    for (std::size_t g = home(h);; g = (g + 1) & mask_) {
      Group& group = groups_[g];
      for (std::uint32_t bits = matches(group, t); bits != 0; bits &= bits - 1) {
        const auto slot = static_cast<std::size_t>(std::countr_zero(bits));
        if (key_of_(group.values[slot]) == key) [[likely]] return {&group, slot};
      }
      if (group.overflow == 0) return {nullptr, 0};
    }
  }

  // Growth is rare and allocates: kept out of line so reserve() inlines to a
  // compare. Tables are mapped (metadata_pages.hpp) so that an outgrown one
  // goes back to the system at once: from malloc, freed tables stayed
  // resident and added half the table's size again to a pool's metadata.
  [[gnu::noinline]] bool grow(std::size_t count) noexcept {
    const std::size_t old_groups = capacity_ / kGroupSlots;
    std::size_t groups = old_groups < kMinGroups ? kMinGroups : old_groups * 2;
    while (max_load(groups * kGroupSlots) < count) groups *= 2;
    // Tags are bits 24-31 of the hash, so more groups than 2^32 would
    // select groups with them; no host holds so many blocks anyway.
    if (groups > (std::size_t{1} << 32)) return false;
    void* mapped = detail::map_metadata(groups * sizeof(Group));
    if (mapped == nullptr) return false;
    // Zeroed pages are empty groups.
    auto* table = static_cast<Group*>(mapped);
    Group* old = groups_;
    const std::size_t old_bytes = table_bytes();
    groups_ = table;
    capacity_ = groups * kGroupSlots;
    mask_ = groups - 1;
    shift_ = 64U - static_cast<unsigned>(std::bit_width(mask_));
    limit_ = max_load(capacity_);
    for (std::size_t g = 0; g < old_groups; ++g) {
      for (std::size_t slot = 0; slot < kGroupSlots; ++slot) {
        if (old[g].tags[slot] != kEmptyTag) place(key_of_(old[g].values[slot]), old[g].values[slot]);
      }
    }
    if (old != empty_table()) detail::unmap_metadata(old, old_bytes);
    return true;
  }

  // At this load few groups overflow (a group's keys are about Poisson with
  // mean 9, so about one in eight overflows), and nearly every operation
  // stays in its home group.
  static constexpr std::size_t max_load(std::size_t capacity) noexcept { return capacity * 3 / 4; }

  KeyOf key_of_;
  Group* groups_ = empty_table();
  std::size_t capacity_ = 0;
  std::size_t mask_ = 1;  // groups - 1
  unsigned shift_ = 63;
  std::size_t limit_ = 0;
  std::size_t size_ = 0;  // the newest entry included
  std::uintptr_t newest_key_ = kEmptyKey;
  Index newest_value_ = kAbsent;
};

}  // namespace nativepool
