// SPDX-License-Identifier: Apache-2.0
/// @file pool_model.hpp
/// @brief The reference model both pool fuzzers check a pool against.
///
/// The input bytes are a program: each step picks an operation (allocate,
/// free, a bad free of each kind, trim, validate, verify) and its operands.
/// The model knows which blocks are live and what each holds, and after
/// every step checks what any correct pool must do: blocks never overlap,
/// alignment is honoured, contents survive, the counters are exact, bad
/// frees fail with the right status and change nothing, and once everything
/// is freed the free space has merged back into whole regions.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <memory>
#include <vector>

#include "nativepool/pool.hpp"
#include "nativepool/status.hpp"

namespace nativepool::fuzz {

/// Stops the fuzzer with a message: a finding.
[[noreturn]] inline void finding(const char* what, std::uintptr_t address = 0) {
  std::fprintf(stderr, "FINDING: %s (address 0x%zx; detail: %s)\n", what, static_cast<std::size_t>(address),
               error_detail());
  std::abort();
}

inline void check(bool condition, const char* what, std::uintptr_t address = 0) {
  if (!condition) finding(what, address);
}

/// What the harness tells the model about the pool under test.
struct PoolUnderTest {
  std::unique_ptr<Pool> pool;
  /// Bytes a successful allocate(size) adds to bytes in use.
  std::function<std::size_t(std::size_t)> counted_size;
  /// Draws a size for the next allocation.
  std::function<std::size_t(FuzzedDataProvider&)> next_size;
  /// Largest power-of-two exponent an allocation may ask for (alignment
  /// 1 << e; exponent 0 asks for the default).
  unsigned max_alignment_log2 = 0;
  /// Alignment every block has whatever was asked (fixed pools).
  std::size_t required_alignment = 1;
  /// Whether an allocation may fail with kOutOfPoolMemory (a bounded pool);
  /// failing for any other reason is a finding.
  bool allow_out_of_memory = true;
};

class Model {
 public:
  explicit Model(PoolUnderTest put) : put_(std::move(put)) {}

  /// Runs the program in @p data, then frees everything and checks the end
  /// state.
  void run(FuzzedDataProvider& data) {
    while (data.remaining_bytes() > 0) step(data);
    while (!live_.empty()) free_block(live_.begin()->first);
    check(put_.pool->validate() == Status::kOk, "validate failed after freeing everything");
    check(put_.pool->verify() == Status::kOk, "verify failed after freeing everything");
    const PoolStats stats = put_.pool->stats();
    check(stats.bytes_in_use == 0 && stats.live_blocks == 0, "counters not zero after freeing everything");
    // Not equal: an emptied slab a size class keeps counts only its blocks as
    // free, not the tail its class size leaves; trim() below gives it back.
    check(stats.fragmentation.free_bytes <= stats.reserved.bytes, "more bytes free than reserved");
    // trim() returns only regions that are one free block, so for a
    // variable pool this also proves the free space merged back.
    put_.pool->trim();
    check(put_.pool->stats().reserved.bytes == 0, "trim kept regions although everything is free");
  }

 private:
  struct Block {
    std::size_t size;
    unsigned char fill;
  };

  void step(FuzzedDataProvider& data) {
    switch (data.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
      case 1:
      case 2:
        allocate(data);
        break;
      case 3:
      case 4:
        if (!live_.empty()) free_block(pick(data));
        break;
      case 5:
        double_free(data);
        break;
      case 6:
        interior_free(data);
        break;
      case 7:
        expect_unchanged(reinterpret_cast<void*>(&foreign_[data.ConsumeIntegralInRange<std::size_t>(0, 63)]),
                         Status::kInvalidFree, "foreign pointer");
        break;
      case 8:
        put_.pool->trim();
        check_counters();
        break;
      default:
        check(put_.pool->validate() == Status::kOk, "validate failed");
        check(put_.pool->verify() == Status::kOk, "verify failed");
        break;
    }
  }

  void allocate(FuzzedDataProvider& data) {
    const std::size_t size = put_.next_size(data);
    const unsigned log2 = data.ConsumeIntegralInRange<unsigned>(0, put_.max_alignment_log2);
    const std::size_t alignment = log2 == 0 ? 0 : std::size_t{1} << log2;
    void* p = nullptr;
    const Status status = put_.pool->allocate(size, alignment, &p);
    if (status != Status::kOk) {
      check(put_.allow_out_of_memory && status == Status::kOutOfPoolMemory, "allocation failed unexpectedly");
      check_counters();
      return;
    }
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    check(address % (alignment == 0 ? 1 : alignment) == 0 && address % put_.required_alignment == 0,
          "alignment not honoured", address);
    check(!overlaps(address, size), "block overlaps a live block", address);
    const auto fill = static_cast<unsigned char>(++sequence_);
    std::memset(p, fill, size);
    live_[address] = Block{size, fill};
    recently_freed_.erase(address);
    bytes_ += put_.counted_size(size);
    check_counters();
  }

  void free_block(std::uintptr_t address) {
    const Block block = live_.at(address);
    const auto* bytes = reinterpret_cast<const unsigned char*>(address);
    for (std::size_t i = 0; i < block.size; ++i) check(bytes[i] == block.fill, "block contents changed", address);
    check(put_.pool->deallocate(bytes_ptr(address)) == Status::kOk, "free of a live block failed", address);
    live_.erase(address);
    bytes_ -= put_.counted_size(block.size);
    recently_freed_.insert(address);
    if (recently_freed_.size() > 64) recently_freed_.erase(recently_freed_.begin());
    check_counters();
  }

  void double_free(FuzzedDataProvider& data) {
    if (recently_freed_.empty()) return;
    auto it = recently_freed_.begin();
    std::advance(it, data.ConsumeIntegralInRange<std::size_t>(0, recently_freed_.size() - 1));
    // The address may lie inside a newer block now: then it is an interior
    // pointer, refused as invalid rather than as a double free.
    const Status status = put_.pool->deallocate(bytes_ptr(*it));
    check(status == Status::kDoubleFree || status == Status::kInvalidFree, "double free not refused", *it);
    check_counters();
  }

  void interior_free(FuzzedDataProvider& data) {
    if (live_.empty()) return;
    const std::uintptr_t address = pick(data);
    const std::size_t size = live_.at(address).size;
    if (size < 2) return;
    const std::size_t offset = data.ConsumeIntegralInRange<std::size_t>(1, size - 1);
    expect_unchanged(bytes_ptr(address + offset), Status::kInvalidFree, "interior pointer");
  }

  void expect_unchanged(void* p, Status expected, const char* what) {
    const Status status = put_.pool->deallocate(p);
    check(status == expected, what, reinterpret_cast<std::uintptr_t>(p));
    check_counters();
  }

  void check_counters() {
    const PoolStats stats = put_.pool->stats();
    check(stats.live_blocks == live_.size(), "live block count differs from the model");
    check(stats.bytes_in_use == bytes_, "bytes in use differ from the model");
    check(stats.allocations - stats.frees == stats.live_blocks, "allocations - frees != live blocks");
    check(stats.reserved.bytes >= stats.bytes_in_use, "more bytes in use than reserved");
  }

  [[nodiscard]] bool overlaps(std::uintptr_t address, std::size_t size) const {
    auto next = live_.lower_bound(address);
    if (next != live_.end() && next->first < address + size) return true;
    if (next == live_.begin()) return false;
    const auto prev = std::prev(next);
    return prev->first + prev->second.size > address;
  }

  std::uintptr_t pick(FuzzedDataProvider& data) const {
    auto it = live_.begin();
    std::advance(it, data.ConsumeIntegralInRange<std::size_t>(0, live_.size() - 1));
    return it->first;
  }

  static void* bytes_ptr(std::uintptr_t address) { return reinterpret_cast<void*>(address); }

  PoolUnderTest put_;
  std::map<std::uintptr_t, Block> live_;
  std::set<std::uintptr_t> recently_freed_;
  std::uint64_t bytes_ = 0;
  unsigned sequence_ = 0;
  static inline unsigned char foreign_[64];
};

}  // namespace nativepool::fuzz
