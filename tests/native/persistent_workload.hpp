// SPDX-License-Identifier: Apache-2.0
// The workload both crash tests run against a PersistentHeap, and its model.
// A state is what a program could rely on after a crash: which blocks (by
// the seed their bytes derive from) sit in which root, the counter two
// blocks share, which every transaction increments in both, and how often
// the file grew (a few times, by kGrowStep each). plan() picks
// the next operation from the state and a generator only, so a parent can
// replay exactly what its killed child did and know the state after each
// acknowledged operation.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "nativepool/persistent_heap.hpp"

namespace nativepool::workload {

constexpr std::size_t kSlots = 16;         // roots 0..15 hold seeded blocks
constexpr std::size_t kPairRoots[2] = {126, 127};  // the blocks holding the counter
constexpr std::uint64_t kCapacity = 256 << 10;     // a fresh heap's
constexpr std::uint64_t kGrowStep = 64 << 10;
constexpr std::uint64_t kGrows = 4;                // at most, so the images stay small

struct State {
  std::uint64_t seeds[kSlots] = {};
  std::uint64_t counter = 0;
  std::uint64_t grows = 0;
  bool operator==(const State& other) const {
    return counter == other.counter && grows == other.grows && std::memcmp(seeds, other.seeds, sizeof seeds) == 0;
  }
};

enum class Kind { kPublish, kFree, kTxMove, kTxAbort, kTxCounter, kGrow };
struct Op {
  Kind kind;
  std::size_t slot;   // the root it fills or empties
  std::size_t other;  // kTxMove/kTxAbort: the root it empties as well (== slot: none)
  std::uint64_t seed;
};

inline std::uint64_t size_for(std::uint64_t seed) { return 8 + seed % 1500; }
inline unsigned char byte_for(std::uint64_t seed, std::uint64_t i) {
  return static_cast<unsigned char>((seed >> (i % 56)) + i * 131);
}

inline void fill(void* block, std::uint64_t seed) {
  auto* bytes = static_cast<unsigned char*>(block);
  std::memcpy(bytes, &seed, 8);
  for (std::uint64_t i = 8; i < size_for(seed); ++i) bytes[i] = byte_for(seed, i);
}

inline Op plan(const State& state, std::mt19937_64& random) {
  std::size_t empty = kSlots, full = kSlots;
  const std::size_t start = random() % kSlots;
  for (std::size_t i = 0; i < kSlots; ++i) {
    const std::size_t slot = (start + i) % kSlots;
    if (state.seeds[slot] == 0 && empty == kSlots) empty = slot;
    if (state.seeds[slot] != 0 && full == kSlots) full = slot;
  }
  const std::uint64_t seed = random() | 1;
  const unsigned pick = static_cast<unsigned>(random() % 100);
  if (pick < 4 && state.grows < kGrows) return {Kind::kGrow, 0, 0, seed};
  if (pick < 30 && empty != kSlots) return {Kind::kPublish, empty, empty, seed};
  if (pick < 50 && full != kSlots) return {Kind::kFree, full, full, seed};
  if (pick < 90 && empty != kSlots) {
    return {pick < 80 ? Kind::kTxMove : Kind::kTxAbort, empty, full == kSlots ? empty : full, seed};
  }
  return {Kind::kTxCounter, 0, 0, seed};
}

inline State apply(State state, const Op& op) {
  switch (op.kind) {
    case Kind::kPublish: state.seeds[op.slot] = op.seed; break;
    case Kind::kFree: state.seeds[op.slot] = 0; break;
    case Kind::kTxMove:
      state.seeds[op.slot] = op.seed;
      if (op.other != op.slot) state.seeds[op.other] = 0;
      ++state.counter;
      break;
    case Kind::kTxAbort: break;
    case Kind::kTxCounter: ++state.counter; break;
    case Kind::kGrow: ++state.grows; break;
  }
  return state;
}

// Creates the two counter blocks of a fresh heap.
inline Status setup(PersistentHeap& heap) {
  for (std::size_t root : kPairRoots) {
    std::uint64_t block = 0;
    const Status status = heap.allocate(64, PersistentHeap::root_slot(root), &block);
    if (status != Status::kOk) return status;
  }
  return Status::kOk;
}

inline Status bump_counter(PersistentHeap& heap) {
  for (std::size_t root : kPairRoots) {
    const std::uint64_t block = heap.root(root);
    const Status status = heap.snapshot(block, 0, 8);
    if (status != Status::kOk) return status;
    ++*static_cast<std::uint64_t*>(heap.address(block));
  }
  return Status::kOk;
}

inline Status execute(PersistentHeap& heap, const Op& op) {
  const std::uint64_t slot = PersistentHeap::root_slot(op.slot);
  switch (op.kind) {
    case Kind::kPublish: {
      PersistentReservation reservation;
      Status status = heap.reserve(size_for(op.seed), &reservation);
      if (status != Status::kOk) return status;
      fill(heap.address(reservation.offset), op.seed);
      return heap.publish(reservation, slot);
    }
    case Kind::kFree: return heap.free(slot);
    case Kind::kTxMove:
    case Kind::kTxAbort: {
      Status status = heap.begin();
      std::uint64_t block = 0;
      if (status == Status::kOk) status = heap.tx_allocate(size_for(op.seed), &block);
      if (status == Status::kOk) {
        fill(heap.address(block), op.seed);
        status = heap.tx_set_root(op.slot, block);
      }
      if (status == Status::kOk && op.other != op.slot) {
        status = heap.tx_free(heap.root(op.other));
        if (status == Status::kOk) status = heap.tx_set_root(op.other, 0);
      }
      if (status == Status::kOk) status = bump_counter(heap);
      if (status != Status::kOk) {
        (void)heap.abort();
        return status;
      }
      return op.kind == Kind::kTxMove ? heap.commit() : heap.abort();
    }
    case Kind::kTxCounter: {
      Status status = heap.begin();
      if (status == Status::kOk) status = bump_counter(heap);
      return status == Status::kOk ? heap.commit() : status;
    }
    case Kind::kGrow: return heap.grow(heap.capacity() + kGrowStep);
  }
  return Status::kInternal;
}

// Reads the state back, checking every block's bytes against its seed, the
// two counters against each other, and that no block is unaccounted for.
inline bool read_state(const PersistentHeap& heap, State* state, std::string* why) {
  std::uint64_t expected_blocks = 2;
  for (std::size_t slot = 0; slot < kSlots; ++slot) {
    const std::uint64_t block = heap.root(slot);
    state->seeds[slot] = 0;
    if (block == 0) continue;
    ++expected_blocks;
    const auto* bytes = static_cast<const unsigned char*>(heap.address(block));
    std::uint64_t seed;
    std::memcpy(&seed, bytes, 8);
    if (heap.block_size(block) != size_for(seed)) {
      *why = "root " + std::to_string(slot) + ": a block of the wrong size (seed " + std::to_string(seed) + ")";
      return false;
    }
    for (std::uint64_t i = 8; i < size_for(seed); ++i) {
      if (bytes[i] != byte_for(seed, i)) {
        *why = "root " + std::to_string(slot) + ": byte " + std::to_string(i) + " differs from its seed";
        return false;
      }
    }
    state->seeds[slot] = seed;
  }
  std::uint64_t counters[2];
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t block = heap.root(kPairRoots[i]);
    if (block == 0 || heap.block_size(block) != 64) {
      *why = "a counter block is missing";
      return false;
    }
    std::memcpy(&counters[i], heap.address(block), 8);
  }
  if (counters[0] != counters[1]) {
    *why = "torn transaction: counters " + std::to_string(counters[0]) + " and " + std::to_string(counters[1]);
    return false;
  }
  state->counter = counters[0];
  const std::uint64_t capacity = heap.capacity();
  if (capacity < kCapacity || (capacity - kCapacity) % kGrowStep != 0 || heap.stats().grows * kGrowStep != capacity - kCapacity) {
    *why = "a capacity of " + std::to_string(capacity) + " bytes no sequence of grows makes";
    return false;
  }
  state->grows = heap.stats().grows;
  if (heap.stats().live_blocks != expected_blocks) {
    *why = std::to_string(heap.stats().live_blocks) + " live blocks, " + std::to_string(expected_blocks) +
           " reachable: a leak";
    return false;
  }
  return true;
}

}  // namespace nativepool::workload
