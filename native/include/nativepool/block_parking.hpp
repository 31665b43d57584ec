// SPDX-License-Identifier: Apache-2.0
/// @file block_parking.hpp
/// @brief BlockParking: a pool's state per block, lent to the explicit
/// BlockCaches (block_cache.hpp) so that they check every free at once.
///
/// A FixedPool keeps a state byte per block, and its thread caches park a
/// freed block by moving that byte from allocated to parked with one CAS
/// (thread_cache.hpp). A BlockCache parks the same way: a second free of a
/// parked block, into any cache or the pool, on any thread, finds it parked
/// and is refused as a double free, and a pointer that is no allocated
/// block of the pool is refused before the cache keeps it. A cache holds
/// the block indices park() returns, which turn back into addresses
/// without a search.
#pragma once

#include <cstdint>
#include <type_traits>

#include "nativepool/fixed_pool.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// Parks blocks in their pool's state per block (Pool::parking()).
class BlockParking {
 public:
  /// Checks @p ptr as the pool's deallocate() does (kDoubleFree,
  /// kInvalidFree; nothing changes), with a CAS or, as @p check allows, a
  /// plain load and store, and marks it parked; @p index receives what
  /// unpark() takes.
  [[nodiscard]] virtual Status park(void* ptr, FreeCheck check, std::uint32_t* index) noexcept = 0;
  /// Marks the block parked as @p index in a user's hands again; its address.
  [[nodiscard]] virtual void* unpark(std::uint32_t index) noexcept = 0;

 protected:
  BlockParking() = default;
  BlockParking(const BlockParking&) = default;
  BlockParking& operator=(const BlockParking&) = default;
  ~BlockParking() = default;
};

/// A FixedPool's state bytes as BlockParking.
template <ThreadSafety Mode>
class FixedParking final : public BlockParking {
 public:
  explicit FixedParking(FixedPool<Mode>& pool) noexcept : pool_(&pool) {}
  Status park(void* ptr, FreeCheck check, std::uint32_t* index) noexcept override {
    return check == FreeCheck::kAtomic ? pool_->park(ptr, index) : pool_->park_unchecked_races(ptr, index);
  }
  void* unpark(std::uint32_t index) noexcept override { return pool_->unpark(index); }

 private:
  FixedPool<Mode>* pool_;
};

/// FixedParking for a FixedPool algorithm; void for the others (a safety
/// layer must see every allocation and free itself).
template <class Algorithm>
struct ParkingOf {
  using type = void;
};
template <ThreadSafety Mode>
struct ParkingOf<FixedPool<Mode>> {
  using type = FixedParking<Mode>;
};

}  // namespace nativepool
