// SPDX-License-Identifier: Apache-2.0
/// @file tracking.hpp
/// @brief WithTracking: a record of every live block (size, time, allocation
/// site) for leak reports, and the site of a block found corrupted.
#pragma once

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nativepool/safety/allocation_site.hpp"
#include "nativepool/safety/corruption.hpp"
#include "nativepool/adaptor.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/safety/safety_checks.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// One live block as a tracking pool records it.
struct LiveBlock {
  std::uintptr_t address = 0;
  std::size_t size = 0;  ///< bytes the user asked for
  std::chrono::steady_clock::time_point allocated_at;
  const char* site = nullptr;  ///< current_allocation_site() when allocated
};

/// Wraps a PoolAlgorithm and records each live block. Thread-safe when the
/// inner pool is.
template <PoolAlgorithm Inner>
class WithTracking : public AdaptorBase<Inner> {
  using Base = AdaptorBase<Inner>;
  using Base::inner_;

 public:
  using Base::kConcurrent;
  /// Blocks listed one by one in a report; the rest are only counted.
  static constexpr std::size_t kReportedBlocks = 32;

  explicit WithTracking(std::unique_ptr<Inner> inner) noexcept : Base(std::move(inner)) {}

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
    const Status status = inner_->allocate(size, alignment, out);
    if (status != Status::kOk) return status;
    const auto address = reinterpret_cast<std::uintptr_t>(*out);
    std::lock_guard guard(lock_);
    try {
      live_.insert_or_assign(address, Record{size, std::chrono::steady_clock::now(), current_allocation_site()});
    } catch (const std::bad_alloc&) {
      (void)inner_->deallocate(*out, nullptr);
      return fail(Status::kInternal, "tracking: out of host memory for the block table");
    }
    return Status::kOk;
  }

  Status deallocate(void* ptr, std::size_t* freed_size) noexcept {
    const Status status = inner_->deallocate(ptr, freed_size);
    const auto address = reinterpret_cast<std::uintptr_t>(ptr);
    std::lock_guard guard(lock_);
    if (status == Status::kOk) {
      live_.erase(address);
    } else if (status == Status::kMemoryCorrupted) {
      name_site(address);
    }
    return status;
  }

  /// The inner layers' block check, with the allocation site added to a
  /// corruption report.
  [[nodiscard]] Status check_blocks() const noexcept {
    const Status status = safety::check_blocks(*inner_);
    if (status == Status::kMemoryCorrupted) {
      std::lock_guard guard(lock_);
      name_site(last_corruption().block);
    }
    return status;
  }

  /// Appends "N live block(s), B bytes" and the oldest blocks, one a line
  /// with address, size, age and site.
  bool report_live_blocks(std::string* out) const noexcept {
    try {
      std::vector<LiveBlock> blocks = live_blocks();
      std::size_t bytes = 0;
      for (const LiveBlock& block : blocks) bytes += block.size;
      std::sort(blocks.begin(), blocks.end(),
                [](const LiveBlock& a, const LiveBlock& b) { return a.allocated_at < b.allocated_at; });
      const auto now = std::chrono::steady_clock::now();
      char line[256];
      std::snprintf(line, sizeof line, "%zu live block(s), %zu bytes", blocks.size(), bytes);
      out->append(line);
      for (std::size_t i = 0; i < blocks.size() && i < kReportedBlocks; ++i) {
        const LiveBlock& b = blocks[i];
        const double age = std::chrono::duration<double>(now - b.allocated_at).count();
        std::snprintf(line, sizeof line, "\n  0x%" PRIxPTR ": %zu bytes, allocated %.3f s ago at %s", b.address,
                      b.size, age, b.site != nullptr ? b.site : "(no site set)");
        out->append(line);
      }
      if (blocks.size() > kReportedBlocks) {
        std::snprintf(line, sizeof line, "\n  ... and %zu more", blocks.size() - kReportedBlocks);
        out->append(line);
      }
      return true;
    } catch (const std::bad_alloc&) {
      return false;
    }
  }

  /// A snapshot of the live blocks, in no particular order.
  [[nodiscard]] std::vector<LiveBlock> live_blocks() const {
    std::lock_guard guard(lock_);
    std::vector<LiveBlock> blocks;
    blocks.reserve(live_.size());
    for (const auto& [address, r] : live_) blocks.push_back({address, r.size, r.allocated_at, r.site});
    return blocks;
  }

  /// Adds the requested size, age and allocation site to each live block of
  /// @p out that is still live.
  void refine(MemorySnapshot* out) const {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard guard(lock_);
    out->refine_live([&](std::uintptr_t address, SnapshotRun block, MemorySnapshot* into) {
      if (const auto it = live_.find(address); it != live_.end()) {
        block.requested = it->second.size;
        block.age_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - it->second.allocated_at).count();
        block.site = it->second.site != nullptr ? it->second.site : "(no site set)";
      }
      into->add(block);
    });
  }

 private:
  struct Record {
    std::size_t size;
    std::chrono::steady_clock::time_point allocated_at;
    const char* site;
  };

  // Requires lock_.
  void name_site(std::uintptr_t address) const noexcept {
    const auto it = live_.find(address);
    if (it != live_.end()) attach_allocation_site(it->second.site != nullptr ? it->second.site : "(no site set)");
  }

  mutable std::conditional_t<kConcurrent, std::mutex, NoLock> lock_;
  std::unordered_map<std::uintptr_t, Record> live_;
};

}  // namespace nativepool
