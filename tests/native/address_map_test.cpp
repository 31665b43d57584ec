// SPDX-License-Identifier: Apache-2.0
#include "nativepool/address_map.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace nativepool {
namespace {

// The nodes the map indexes, as the variable pool's are: node i holds key
// keys[i], and index 0 is no node. Each key gets its own node the first time
// a test names it, so a mismatch shows exactly which entry went wrong.
class Nodes {
 public:
  std::uint32_t of(std::uintptr_t key) {
    const auto [it, added] = index_.emplace(key, static_cast<std::uint32_t>(keys_.size()));
    if (added) keys_.push_back(key);
    return it->second;
  }
  [[nodiscard]] std::uintptr_t key(std::uint32_t index) const { return keys_.at(index); }

 private:
  std::vector<std::uintptr_t> keys_{0};
  std::unordered_map<std::uintptr_t, std::uint32_t> index_;
};

struct KeyOfNode {
  const Nodes* nodes;
  std::uintptr_t operator()(std::uint32_t index) const { return nodes->key(index); }
};
using Map = AddressMap<KeyOfNode>;
constexpr std::uint32_t kAbsent = Map::kAbsent;

TEST(AddressMapTest, EmptyMapFindsNothing) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.capacity(), 0u);
  EXPECT_EQ(map.find(0x1000), kAbsent);
  EXPECT_EQ(map.find(0), kAbsent);
  EXPECT_EQ(map.take(0x1000), kAbsent);
  EXPECT_EQ(map.take(0), kAbsent);
  EXPECT_EQ(map.size(), 0u);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, InsertFindTake) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  const std::uint32_t a = nodes.of(0x1000);
  const std::uint32_t b = nodes.of(0x2000);
  ASSERT_TRUE(map.reserve(2));
  map.insert(0x1000, a);
  map.insert(0x2000, b);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.find(0x1000), a);
  EXPECT_EQ(map.find(0x2000), b);
  EXPECT_EQ(map.find(0x3000), kAbsent);
  EXPECT_EQ(map.take(0x1000), a);
  EXPECT_EQ(map.find(0x1000), kAbsent);
  EXPECT_EQ(map.take(0x1000), kAbsent);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(map.find(0x2000), b);
  EXPECT_TRUE(map.consistent());
}

// The newest entry waits outside the table: taking it right after the
// insert, and again, behaves as for any other entry, and key 0 still matches
// nothing once that place is empty.
TEST(AddressMapTest, TheNewestEntryBehavesLikeAnyOther) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  ASSERT_TRUE(map.reserve(3));
  map.insert(0x1000, nodes.of(0x1000));
  map.insert(0x2000, nodes.of(0x2000));
  EXPECT_EQ(map.find(0x2000), nodes.of(0x2000));
  EXPECT_EQ(map.take(0x2000), nodes.of(0x2000));
  EXPECT_EQ(map.take(0x2000), kAbsent);
  EXPECT_EQ(map.find(0), kAbsent);
  EXPECT_EQ(map.take(0), kAbsent);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_TRUE(map.consistent());
  map.insert(0x2000, nodes.of(0x2000));
  map.insert(0x3000, nodes.of(0x3000));
  for (std::uintptr_t key : {0x1000, 0x2000, 0x3000}) EXPECT_EQ(map.find(key), nodes.of(key));
  EXPECT_EQ(map.size(), 3u);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, KeyZeroNeverMatchesAnEmptySlot) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  ASSERT_TRUE(map.reserve(10));
  for (std::uintptr_t key = 16; key <= 160; key += 16) map.insert(key, nodes.of(key));
  EXPECT_EQ(map.find(0), kAbsent);
  EXPECT_EQ(map.take(0), kAbsent);
  EXPECT_EQ(map.size(), 10u);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, ReserveMakesInsertsAllocationFree) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  ASSERT_TRUE(map.reserve(1000));
  const std::size_t capacity = map.capacity();
  EXPECT_TRUE(std::has_single_bit(capacity / Map::kGroupSlots));
  EXPECT_EQ(capacity % Map::kGroupSlots, 0u);
  EXPECT_GE(capacity * 3 / 4, 1000u);
  for (std::uintptr_t i = 1; i <= 1000; ++i) map.insert(i * 64, nodes.of(i * 64));
  EXPECT_EQ(map.capacity(), capacity);
  EXPECT_TRUE(map.reserve(1000));
  EXPECT_EQ(map.capacity(), capacity);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, GrowthKeepsEveryEntryAndTheLoadAtMostThreeQuarters) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  std::size_t growths = 0;
  std::size_t capacity = map.capacity();
  for (std::uintptr_t i = 1; i <= 40000; ++i) {
    ASSERT_TRUE(map.reserve(map.size() + 1));
    map.insert(i * 16, nodes.of(i * 16));
    if (map.capacity() != capacity) {
      ++growths;
      capacity = map.capacity();
      ASSERT_TRUE(std::has_single_bit(capacity / Map::kGroupSlots));
    }
    ASSERT_LE(map.size() * 4, map.capacity() * 3);
  }
  EXPECT_GE(growths, 8u);
  EXPECT_TRUE(map.consistent());
  for (std::uintptr_t i = 1; i <= 40000; ++i) ASSERT_EQ(map.find(i * 16), nodes.of(i * 16)) << i;
}

// Keys whose home is the last group of the smallest table: once it is full
// they overflow across the table end into group 0, and erasing them must
// keep every overflow count right.
TEST(AddressMapTest, OverflowAcrossTheTableEnd) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  ASSERT_TRUE(map.reserve(20));
  const std::size_t groups = map.capacity() / Map::kGroupSlots;
  ASSERT_TRUE(std::has_single_bit(groups));
  const int shift = 64 - std::countr_zero(groups);
  std::vector<std::uintptr_t> keys;
  for (std::uintptr_t key = 16; keys.size() < 20; key += 16) {
    if (((key * 0x9E3779B97F4A7C15ULL) >> shift) == groups - 1) keys.push_back(key);
  }
  for (std::uintptr_t key : keys) map.insert(key, nodes.of(key));
  ASSERT_TRUE(map.consistent());
  for (std::uintptr_t key : keys) ASSERT_EQ(map.find(key), nodes.of(key));
  // Oldest first, so the entries in the home bucket go before the ones that
  // overflowed past it.
  for (std::size_t erased = 0; erased < keys.size(); ++erased) {
    EXPECT_EQ(map.take(keys[erased]), nodes.of(keys[erased]));
    ASSERT_TRUE(map.consistent()) << "after erasing " << erased + 1;
    for (std::size_t i = erased + 1; i < keys.size(); ++i) EXPECT_EQ(map.find(keys[i]), nodes.of(keys[i]));
  }
  EXPECT_EQ(map.size(), 0u);
}

// A small key universe keeps the table dense and groups overflowing, where
// the overflow counts have the most to get wrong.
TEST(AddressMapTest, RandomOperationsMatchUnorderedMap) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    Nodes nodes;
  Map map(KeyOfNode{&nodes});
    std::unordered_map<std::uintptr_t, std::uint32_t> reference;
    std::uniform_int_distribution<std::uintptr_t> key_index(1, 3000);
    for (int step = 0; step < 200000; ++step) {
      const std::uintptr_t key = key_index(rng) * 256;
      switch (rng() % 3) {
        case 0:
          if (reference.count(key) == 0) {
            ASSERT_TRUE(map.reserve(map.size() + 1));
            map.insert(key, nodes.of(key));
            reference.emplace(key, nodes.of(key));
          }
          break;
        case 1: {
          const auto it = reference.find(key);
          ASSERT_EQ(map.take(key), it == reference.end() ? kAbsent : it->second) << "step " << step;
          if (it != reference.end()) reference.erase(it);
          break;
        }
        default: {
          const auto it = reference.find(key);
          ASSERT_EQ(map.find(key), it == reference.end() ? kAbsent : it->second) << "step " << step;
        }
      }
      ASSERT_EQ(map.size(), reference.size());
      if (step % 10000 == 0) {
        ASSERT_TRUE(map.consistent()) << "step " << step;
      }
    }
    ASSERT_TRUE(map.consistent());
    for (const auto& [key, value] : reference) ASSERT_EQ(map.find(key), value);
  }
}

// Keys that share a home group and a tag are told apart by the key their
// node holds: the map reads it for every slot whose tag matches.
TEST(AddressMapTest, KeysWithTheSameTagAreToldApartByTheirNodes) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  ASSERT_TRUE(map.reserve(8));
  const int shift = 64 - std::countr_zero(map.capacity() / Map::kGroupSlots);
  const auto home_and_tag = [shift](std::uintptr_t key) {
    const std::uint64_t hash = key * 0x9E3779B97F4A7C15ULL;
    return std::pair{hash >> shift, static_cast<std::uint8_t>(hash >> 24)};
  };
  std::vector<std::uintptr_t> twins{16};
  for (std::uintptr_t key = 32; twins.size() < 3; key += 16) {
    if (home_and_tag(key) == home_and_tag(twins[0])) twins.push_back(key);
  }
  for (std::uintptr_t key : twins) map.insert(key, nodes.of(key));
  map.insert(0x8, nodes.of(0x8));  // moves the last twin into the table
  for (std::uintptr_t key : twins) EXPECT_EQ(map.find(key), nodes.of(key));
  EXPECT_EQ(map.take(twins[1]), nodes.of(twins[1]));
  EXPECT_EQ(map.find(twins[1]), kAbsent);
  EXPECT_EQ(map.find(twins[0]), nodes.of(twins[0]));
  EXPECT_EQ(map.find(twins[2]), nodes.of(twins[2]));
  EXPECT_TRUE(map.consistent());
}

// What a live block's entry costs: the table's bytes over its entries. At
// most 128/9 (14.2) bytes just after a growth, 8 at a power of two entries,
// the sizes the metadata benchmark measures.
TEST(AddressMapTest, AnEntryCostsAtMostFourteenTableBytes) {
  Nodes nodes;
  Map map(KeyOfNode{&nodes});
  for (std::uintptr_t i = 1; i <= (std::uintptr_t{1} << 17); ++i) {
    ASSERT_TRUE(map.reserve(map.size() + 1));
    map.insert(i * 2048, nodes.of(i * 2048));
    if (map.size() < 1024) continue;
    ASSERT_LE(map.table_bytes() * 9, 128 * map.size()) << map.size() << " entries";
    if (std::has_single_bit(map.size())) {
      EXPECT_EQ(map.table_bytes(), 8 * map.size()) << map.size() << " entries";
    }
  }
  EXPECT_TRUE(map.consistent());
}

// The tag compare, on x86 SSE2 and elsewhere a portable bit trick (which
// runs here too): both agree with a byte-by-byte compare, for bytes that
// differ from the value in one bit only, or in the top bit, where a sloppy
// zero-byte test gives false matches.
TEST(AddressMapTest, TagComparesMatchExactlyTheEqualBytes) {
  std::mt19937_64 rng(7);
  alignas(16) std::uint8_t bytes[16];
  for (int round = 0; round < 20000; ++round) {
    const auto value = static_cast<std::uint8_t>(rng());
    for (std::uint8_t& byte : bytes) {
      const std::uint64_t pick = rng() % 4;
      byte = pick == 0   ? value
             : pick == 1 ? static_cast<std::uint8_t>(value ^ (1U << (rng() % 8)))
             : pick == 2 ? static_cast<std::uint8_t>(value ^ 0x80U)
                         : static_cast<std::uint8_t>(rng());
    }
    std::uint32_t expected = 0;
    for (std::uint32_t i = 0; i < 12; ++i) expected |= static_cast<std::uint32_t>(bytes[i] == value) << i;
    ASSERT_EQ(detail::match_bytes12_swar(bytes, value), expected) << "round " << round;
    ASSERT_EQ(detail::match_bytes12(bytes, value), expected) << "round " << round;
  }
}

}  // namespace
}  // namespace nativepool
