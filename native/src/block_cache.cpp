// SPDX-License-Identifier: Apache-2.0
#include "nativepool/block_cache.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>

namespace nativepool {
namespace {

// Opening and closing caches and reading stats are rare next to the cache
// operations, which never come here, so one mutex guards the registry.
struct Registry {
  std::mutex mutex;
  std::unordered_map<ParkedCounter*, const Pool*> counters;  // pool is null once destroyed
};

Registry& registry() noexcept {
  static Registry instance;
  return instance;
}

}  // namespace

ParkedCounter* open_parked_counter(const Pool* pool) noexcept {
  auto* counter = new (std::nothrow) ParkedCounter;
  if (counter == nullptr) return nullptr;
  Registry& r = registry();
  try {
    std::lock_guard lock(r.mutex);
    r.counters.emplace(counter, pool);
    return counter;
  } catch (const std::bad_alloc&) {
    delete counter;
    return nullptr;
  }
}

void close_parked_counter(ParkedCounter* counter) noexcept {
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    r.counters.erase(counter);
  }
  delete counter;
}

std::uint64_t parked_blocks(const Pool* pool) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::uint64_t total = 0;
  for (const auto& [counter, owner] : r.counters) {
    if (owner == pool) total += std::atomic_ref<std::uint64_t>(counter->blocks).load(std::memory_order_relaxed);
  }
  return total;
}

void forget_parked_counters(const Pool* pool) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& [counter, owner] : r.counters) {
    if (owner == pool) owner = nullptr;
  }
}

Status BlockCache::create(Pool& pool, std::size_t capacity, std::unique_ptr<BlockCache>* out,
                          FreeCheck check) noexcept {
  if (out == nullptr) return fail(Status::kInvalidArgument, "block cache: needs a place to store the cache");
  if (pool.info().block_size == 0) {
    return fail(Status::kInvalidArgument, "block cache: thread caches serve fixed-size pools only");
  }
  if (capacity < 2) {
    return fail(Status::kInvalidArgument, "block cache: a capacity of %zu is below the minimum of 2", capacity);
  }
  std::unique_ptr<void*[]> blocks(new (std::nothrow) void*[capacity]);
  std::unique_ptr<std::uint32_t[]> indices(pool.parking() != nullptr ? new (std::nothrow) std::uint32_t[capacity]
                                                                      : nullptr);
  const bool made = blocks != nullptr && (indices != nullptr || pool.parking() == nullptr);
  ParkedCounter* counter = made ? open_parked_counter(&pool) : nullptr;
  std::unique_ptr<BlockCache> cache(
      counter != nullptr ? new (std::nothrow) BlockCache(pool, std::move(blocks), std::move(indices), capacity, counter, check)
                         : nullptr);
  if (cache == nullptr) {
    if (counter != nullptr) close_parked_counter(counter);
    return fail(Status::kInternal, "block cache: out of host memory for a cache of %zu blocks", capacity);
  }
  *out = std::move(cache);
  return Status::kOk;
}

BlockCache::BlockCache(Pool& pool, std::unique_ptr<void*[]> blocks, std::unique_ptr<std::uint32_t[]> indices,
                       std::size_t capacity, ParkedCounter* counter, FreeCheck check) noexcept
    : pool_(pool),
      parking_(indices != nullptr ? pool.parking() : nullptr),
      check_(check),
      block_size_(pool.info().block_size),
      blocks_(std::move(blocks)),
      indices_(std::move(indices)),
      capacity_(capacity),
      counter_(counter) {}

BlockCache::~BlockCache() {
  // A bad pointer parked unchecked since the last drain has no one left to
  // hear about it; the pool refused it and keeps counting it as live.
  (void)drain(count_);
  close_parked_counter(counter_);
}

// A block of the batch that another thread freed meanwhile (a double free
// racing with the refill) is free in the pool again, and its park fails: the
// cache keeps the others only.
Status BlockCache::refill_then_allocate(void** out) noexcept {
  const std::size_t batch = capacity_ / 2;
  if (Status status = pool_.allocate_batch(block_size_, 0, blocks_.get(), batch); status != Status::kOk) {
    return status;
  }
  count_ = batch;
  if (parking_ != nullptr) {
    count_ = 0;
    for (std::size_t i = 0; i < batch; ++i) {
      if (parking_->park(blocks_[i], check_, &indices_[count_]) == Status::kOk) ++count_;
    }
  }
  return allocate(out);
}

// A full cache drains its older half, once the block itself passed its
// check. Over a pool without parking the block is parked unchecked, and the
// drain reports what the pool thought of the ones parked before it.
Status BlockCache::deallocate_slow(void* ptr) noexcept {
  std::uint32_t index = 0;
  if (parking_ != nullptr) {
    if (Status status = parking_->park(ptr, check_, &index); status != Status::kOk) return status;
  }
  const Status drained = count_ == capacity_ ? drain(capacity_ / 2) : Status::kOk;
  if (parking_ != nullptr) {
    indices_[count_++] = index;
  } else {
    blocks_[count_++] = ptr;
  }
  publish();
  return drained;
}

// Frees the oldest @p n parked blocks. The counter drops first, so stats
// never see more parked blocks than the pool has handed out. A pointer the
// pool refuses is dropped and the rest still go back; the first refusal is
// the one reported.
Status BlockCache::drain(std::size_t n) noexcept {
  void** first = blocks_.get();
  const std::size_t kept = count_ - n;
  count_ = kept;
  publish();
  if (parking_ != nullptr) {
    for (std::size_t i = 0; i < n; ++i) first[i] = parking_->unpark(indices_[i]);
    std::copy(indices_.get() + n, indices_.get() + n + kept, indices_.get());
  }
  Status result = Status::kOk;
  char detail[256] = "";
  for (std::size_t done = 0; done < n;) {
    std::size_t freed = 0;
    const Status status = pool_.deallocate_batch(first + done, n - done, &freed);
    done += freed;
    if (status == Status::kOk) break;
    if (result == Status::kOk) {
      result = status;
      std::snprintf(detail, sizeof detail, "%s", error_detail());
    }
    ++done;  // past the refused pointer
  }
  if (parking_ == nullptr) std::copy(first + n, first + n + kept, first);
  if (result != Status::kOk) return fail(result, "block cache drain: %s", detail);
  return Status::kOk;
}

}  // namespace nativepool
