// SPDX-License-Identifier: Apache-2.0
/// @file statistics.hpp
/// @brief Counting adaptor: wraps any pool algorithm and keeps its counters.
///
/// Counting is kept out of the algorithms (as RMM keeps it in
/// statistics_resource_adaptor) so that each algorithm's fast path is only the
/// algorithm. The adaptor is a template, so wrapping costs no virtual call;
/// for pools used by one thread its counters are plain integers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "nativepool/batch.hpp"
#include "nativepool/pool.hpp"

namespace nativepool {

/// A counter that is a relaxed atomic only when the pool is shared between
/// threads. Relaxed is enough: counters order nothing, they only add up.
template <bool Concurrent>
class Counter {
 public:
  std::uint64_t add(std::uint64_t n) noexcept { return value_ += n; }
  void sub(std::uint64_t n) noexcept { value_ -= n; }
  void raise_to(std::uint64_t candidate) noexcept {
    if (candidate > value_) value_ = candidate;
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return value_; }

 private:
  std::uint64_t value_ = 0;
};

template <>
class Counter<true> {
 public:
  std::uint64_t add(std::uint64_t n) noexcept {
    return value_.fetch_add(n, std::memory_order_relaxed) + n;
  }
  void sub(std::uint64_t n) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  void raise_to(std::uint64_t candidate) noexcept {
    std::uint64_t current = value_.load(std::memory_order_relaxed);
    while (candidate > current &&
           !value_.compare_exchange_weak(current, candidate, std::memory_order_relaxed)) {
    }
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  // Own cache line: the counters are written by every thread using the pool.
  alignas(64) std::atomic<std::uint64_t> value_{0};
};

/// Wraps a PoolAlgorithm and counts allocations, frees, failures, bytes in
/// use and their peak. Everything else is forwarded unchanged.
template <PoolAlgorithm Inner>
class WithStatistics {
  static constexpr bool kConcurrent = Inner::kConcurrent;

 public:
  explicit WithStatistics(std::unique_ptr<Inner> inner) noexcept : inner_(std::move(inner)) {}

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
    const Status status = inner_->allocate(size, alignment, out);
    if (status == Status::kOk) [[likely]] {
      allocations_.add(1);
      peak_in_use_.raise_to(in_use_.add(inner_->counted_size(size)));
    } else {
      failures_.add(1);
    }
    return status;
  }

  Status deallocate(void* ptr) noexcept {
    std::size_t freed = 0;
    const Status status = inner_->deallocate(ptr, &freed);
    if (status == Status::kOk) [[likely]] {
      frees_.add(1);
      in_use_.sub(freed);
    }
    return status;
  }

  /// All or nothing, counted only when whole: a refused batch moves no
  /// counter but failures (one failed call), as a refused allocate().
  Status allocate_batch(std::size_t size, std::size_t alignment, void** out, std::size_t count) noexcept {
    const Status status = batch::allocate(*inner_, size, alignment, out, count);
    if (status == Status::kOk) [[likely]] {
      allocations_.add(count);
      peak_in_use_.raise_to(in_use_.add(count * inner_->counted_size(size)));
    } else {
      failures_.add(1);
    }
    return status;
  }

  /// Counts the blocks freed before the first refused one.
  Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept {
    std::size_t bytes = 0;
    const Status status = batch::deallocate(*inner_, ptrs, count, freed, &bytes);
    if (*freed != 0) {
      frees_.add(*freed);
      in_use_.sub(bytes);
    }
    return status;
  }

  [[nodiscard]] PoolStats stats() const noexcept {
    PoolStats stats;
    // Frees are read before allocations so that, under concurrency,
    // live_blocks can never come out negative.
    stats.frees = frees_.get();
    stats.allocations = allocations_.get();
    stats.failures = failures_.get();
    stats.live_blocks = stats.allocations - stats.frees;
    stats.bytes_in_use = in_use_.get();
    stats.peak_bytes_in_use = peak_in_use_.get();
    stats.reserved = inner_->reservation();
    stats.fragmentation = inner_->fragmentation();
    return stats;
  }

  [[nodiscard]] Inner& inner() noexcept { return *inner_; }
  [[nodiscard]] const Inner& inner() const noexcept { return *inner_; }

 private:
  std::unique_ptr<Inner> inner_;
  Counter<kConcurrent> allocations_;
  Counter<kConcurrent> frees_;
  Counter<kConcurrent> failures_;
  Counter<kConcurrent> in_use_;
  Counter<kConcurrent> peak_in_use_;
};

}  // namespace nativepool
