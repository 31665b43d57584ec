// SPDX-License-Identifier: Apache-2.0
/// @file erased_pool.hpp
/// @brief ErasedPool: a counted pool algorithm behind the virtual Pool
/// interface. One virtual call per operation is the price of choosing the
/// algorithm and thread-safety mode at run time (from Java).
#pragma once

#include <algorithm>
#include <memory>
#include <type_traits>
#include <utility>

#include "nativepool/block_cache.hpp"
#include "nativepool/block_parking.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/safety/safety_checks.hpp"
#include "nativepool/statistics.hpp"

namespace nativepool {

template <PoolAlgorithm A>
class ErasedPool final : public Pool {
 public:
  ErasedPool(std::unique_ptr<A> algorithm, PoolInfo info) noexcept
      : pool_(std::move(algorithm)), info_(std::move(info)) {}

  ~ErasedPool() override { forget_parked_counters(this); }

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    return pool_.allocate(size, alignment, out);
  }

  Status deallocate(void* ptr) noexcept override { return pool_.deallocate(ptr); }

  Status allocate_batch(std::size_t size, std::size_t alignment, void** out,
                        std::size_t count) noexcept override {
    return pool_.allocate_batch(size, alignment, out, count);
  }

  Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept override {
    return pool_.deallocate_batch(ptrs, count, freed);
  }

  PoolStats stats() const noexcept override {
    PoolStats stats = pool_.stats();
    // Under concurrency a counter may be read after a refill the statistics
    // missed; the clamp keeps every figure one the pool had or could have had.
    stats.cached_blocks = std::min(parked_blocks(this), stats.live_blocks);
    stats.cached_bytes = stats.cached_blocks * pool_.inner().counted_size(info_.block_size);
    stats.live_blocks -= stats.cached_blocks;
    stats.bytes_in_use -= stats.cached_bytes;
    return stats;
  }
  Status validate() const noexcept override { return pool_.inner().validate(); }
  Status verify() const noexcept override {
    const Status status = validate();
    return status != Status::kOk ? status : safety::check_blocks(pool_);
  }
  bool leak_report(std::string* out) const noexcept override { return safety::report_live_blocks(pool_, out); }
  std::size_t trim() noexcept override { return pool_.inner().trim(); }
  Status snapshot(MemorySnapshot* out) const noexcept override { return snapshot::take(pool_.inner(), out); }
  const PoolInfo& info() const noexcept override { return info_; }
  BlockParking* parking() noexcept override {
    if constexpr (kParks) {
      pool_.inner().allow_unlocked_parking();  // a BlockCache parks without the pool's lock
      return &parking_;
    } else {
      return nullptr;
    }
  }

 private:
  static constexpr bool kParks = !std::is_void_v<typename ParkingOf<A>::type>;
  struct NoParking {
    explicit NoParking(A& /*pool*/) noexcept {}
  };

  WithStatistics<A> pool_;
  PoolInfo info_;
  [[no_unique_address]] std::conditional_t<kParks, typename ParkingOf<A>::type, NoParking> parking_{pool_.inner()};
};

}  // namespace nativepool
