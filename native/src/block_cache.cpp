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

Status BlockCache::create(Pool& pool, std::size_t capacity, std::unique_ptr<BlockCache>* out) noexcept {
  if (out == nullptr) return fail(Status::kInvalidArgument, "block cache: needs a place to store the cache");
  if (pool.info().block_size == 0) {
    return fail(Status::kInvalidArgument, "block cache: thread caches serve fixed-size pools only");
  }
  if (capacity < 2) {
    return fail(Status::kInvalidArgument, "block cache: a capacity of %zu is below the minimum of 2", capacity);
  }
  std::unique_ptr<void*[]> blocks(new (std::nothrow) void*[capacity]);
  ParkedCounter* counter = blocks != nullptr ? open_parked_counter(&pool) : nullptr;
  std::unique_ptr<BlockCache> cache(counter != nullptr ? new (std::nothrow)
                                                             BlockCache(pool, std::move(blocks), capacity, counter)
                                                       : nullptr);
  if (cache == nullptr) {
    if (counter != nullptr) close_parked_counter(counter);
    return fail(Status::kInternal, "block cache: out of host memory for a cache of %zu blocks", capacity);
  }
  *out = std::move(cache);
  return Status::kOk;
}

BlockCache::BlockCache(Pool& pool, std::unique_ptr<void*[]> blocks, std::size_t capacity,
                       ParkedCounter* counter) noexcept
    : pool_(pool),
      block_size_(pool.info().block_size),
      blocks_(std::move(blocks)),
      capacity_(capacity),
      counter_(counter) {}

BlockCache::~BlockCache() {
  // A bad pointer parked since the last drain has no one left to hear about
  // it; the pool refused it and keeps counting it as live.
  (void)drain(count_);
  close_parked_counter(counter_);
}

Status BlockCache::refill_then_allocate(void** out) noexcept {
  const std::size_t batch = capacity_ / 2;
  if (Status status = pool_.allocate_batch(block_size_, 0, blocks_.get(), batch); status != Status::kOk) {
    return status;
  }
  count_ = batch - 1;
  *out = blocks_[count_];
  publish();
  return Status::kOk;
}

Status BlockCache::drain_then_park(void* ptr) noexcept {
  const Status status = drain(capacity_ / 2);
  blocks_[count_++] = ptr;
  publish();
  return status;
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
  std::copy(first + n, first + n + kept, first);
  if (result != Status::kOk) return fail(result, "block cache drain: %s", detail);
  return Status::kOk;
}

}  // namespace nativepool
