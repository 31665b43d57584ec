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

struct Node {
  int id = 0;
};

// Values are fake pointers derived from the key: the map never dereferences
// them, and a mismatch shows exactly which entry went wrong.
Node* value_for(std::uintptr_t key) { return reinterpret_cast<Node*>(key ^ 0xABCDEF0ULL); }

TEST(AddressMapTest, EmptyMapFindsNothing) {
  AddressMap<Node> map;
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.capacity(), 0u);
  EXPECT_EQ(map.find(0x1000), nullptr);
  EXPECT_EQ(map.find(0), nullptr);
  EXPECT_EQ(map.take(0x1000), nullptr);
  EXPECT_EQ(map.take(0), nullptr);
  EXPECT_EQ(map.size(), 0u);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, InsertFindTake) {
  AddressMap<Node> map;
  Node a;
  Node b;
  ASSERT_TRUE(map.reserve(2));
  map.insert(0x1000, &a);
  map.insert(0x2000, &b);
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.find(0x1000), &a);
  EXPECT_EQ(map.find(0x2000), &b);
  EXPECT_EQ(map.find(0x3000), nullptr);
  EXPECT_EQ(map.take(0x1000), &a);
  EXPECT_EQ(map.find(0x1000), nullptr);
  EXPECT_EQ(map.take(0x1000), nullptr);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(map.find(0x2000), &b);
  EXPECT_TRUE(map.consistent());
}

// The newest entry waits outside the table: taking it right after the
// insert, and again, behaves as for any other entry, and key 0 still matches
// nothing once that place is empty.
TEST(AddressMapTest, TheNewestEntryBehavesLikeAnyOther) {
  AddressMap<Node> map;
  ASSERT_TRUE(map.reserve(3));
  map.insert(0x1000, value_for(0x1000));
  map.insert(0x2000, value_for(0x2000));
  EXPECT_EQ(map.find(0x2000), value_for(0x2000));
  EXPECT_EQ(map.take(0x2000), value_for(0x2000));
  EXPECT_EQ(map.take(0x2000), nullptr);
  EXPECT_EQ(map.find(0), nullptr);
  EXPECT_EQ(map.take(0), nullptr);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_TRUE(map.consistent());
  map.insert(0x2000, value_for(0x2000));
  map.insert(0x3000, value_for(0x3000));
  for (std::uintptr_t key : {0x1000, 0x2000, 0x3000}) EXPECT_EQ(map.find(key), value_for(key));
  EXPECT_EQ(map.size(), 3u);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, KeyZeroNeverMatchesAnEmptySlot) {
  AddressMap<Node> map;
  ASSERT_TRUE(map.reserve(10));
  for (std::uintptr_t key = 16; key <= 160; key += 16) map.insert(key, value_for(key));
  EXPECT_EQ(map.find(0), nullptr);
  EXPECT_EQ(map.take(0), nullptr);
  EXPECT_EQ(map.size(), 10u);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, ReserveMakesInsertsAllocationFree) {
  AddressMap<Node> map;
  ASSERT_TRUE(map.reserve(1000));
  const std::size_t capacity = map.capacity();
  EXPECT_TRUE(std::has_single_bit(capacity / AddressMap<Node>::kBucketSlots));
  EXPECT_EQ(capacity % AddressMap<Node>::kBucketSlots, 0u);
  EXPECT_GE(capacity * 7 / 10, 1000u);
  for (std::uintptr_t i = 1; i <= 1000; ++i) map.insert(i * 64, value_for(i * 64));
  EXPECT_EQ(map.capacity(), capacity);
  EXPECT_TRUE(map.reserve(1000));
  EXPECT_EQ(map.capacity(), capacity);
  EXPECT_TRUE(map.consistent());
}

TEST(AddressMapTest, GrowthKeepsEveryEntryAndTheLoadBelowSeventyPercent) {
  AddressMap<Node> map;
  std::size_t growths = 0;
  std::size_t capacity = map.capacity();
  for (std::uintptr_t i = 1; i <= 20000; ++i) {
    ASSERT_TRUE(map.reserve(map.size() + 1));
    map.insert(i * 16, value_for(i * 16));
    if (map.capacity() != capacity) {
      ++growths;
      capacity = map.capacity();
      ASSERT_TRUE(std::has_single_bit(capacity / AddressMap<Node>::kBucketSlots));
    }
    ASSERT_LE(map.size() * 10, map.capacity() * 7);
  }
  EXPECT_GE(growths, 8u);
  EXPECT_TRUE(map.consistent());
  for (std::uintptr_t i = 1; i <= 20000; ++i) ASSERT_EQ(map.find(i * 16), value_for(i * 16)) << i;
}

// Keys whose home is the last bucket of an eight-bucket table: once it is
// full they overflow across the table end into bucket 0, and erasing them
// must keep every overflow count right.
TEST(AddressMapTest, OverflowAcrossTheTableEnd) {
  AddressMap<Node> map;
  ASSERT_TRUE(map.reserve(12));
  ASSERT_EQ(map.capacity(), 8 * AddressMap<Node>::kBucketSlots);
  std::vector<std::uintptr_t> keys;
  for (std::uintptr_t key = 16; keys.size() < 12; key += 16) {
    if (((key * 0x9E3779B97F4A7C15ULL) >> 61) == 7) keys.push_back(key);
  }
  for (std::uintptr_t key : keys) map.insert(key, value_for(key));
  ASSERT_TRUE(map.consistent());
  for (std::uintptr_t key : keys) ASSERT_EQ(map.find(key), value_for(key));
  // Oldest first, so the entries in the home bucket go before the ones that
  // overflowed past it.
  for (std::size_t erased = 0; erased < keys.size(); ++erased) {
    EXPECT_EQ(map.take(keys[erased]), value_for(keys[erased]));
    ASSERT_TRUE(map.consistent()) << "after erasing " << erased + 1;
    for (std::size_t i = erased + 1; i < keys.size(); ++i) EXPECT_EQ(map.find(keys[i]), value_for(keys[i]));
  }
  EXPECT_EQ(map.size(), 0u);
}

// A small key universe keeps the table dense and buckets overflowing, where
// the overflow counts have the most to get wrong.
TEST(AddressMapTest, RandomOperationsMatchUnorderedMap) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    AddressMap<Node> map;
    std::unordered_map<std::uintptr_t, Node*> reference;
    std::uniform_int_distribution<std::uintptr_t> key_index(1, 3000);
    for (int step = 0; step < 200000; ++step) {
      const std::uintptr_t key = key_index(rng) * 256;
      switch (rng() % 3) {
        case 0:
          if (reference.count(key) == 0) {
            ASSERT_TRUE(map.reserve(map.size() + 1));
            map.insert(key, value_for(key));
            reference.emplace(key, value_for(key));
          }
          break;
        case 1: {
          const auto it = reference.find(key);
          ASSERT_EQ(map.take(key), it == reference.end() ? nullptr : it->second) << "step " << step;
          if (it != reference.end()) reference.erase(it);
          break;
        }
        default: {
          const auto it = reference.find(key);
          ASSERT_EQ(map.find(key), it == reference.end() ? nullptr : it->second) << "step " << step;
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

}  // namespace
}  // namespace nativepool
