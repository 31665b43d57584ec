// SPDX-License-Identifier: Apache-2.0
#include "nativepool/variable_thread_cache.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "nativepool/batch.hpp"

namespace nativepool {

using detail::relaxed_store;

Status ThreadCachedVariablePool::create(std::unique_ptr<Algorithm> pool, std::size_t capacity, PoolInfo info,
                                        std::unique_ptr<Pool>* out) noexcept {
  if (Status status = check_create(pool.get(), out, capacity); status != Status::kOk) return status;
  if (pool->cache_classes() == 0) {
    return fail(Status::kInvalidArgument, "thread cache: the variable pool has no size classes to cache");
  }
  std::unique_ptr<ThreadCachedVariablePool> cached(
      new (std::nothrow) ThreadCachedVariablePool(std::move(pool), capacity, std::move(info)));
  if (cached == nullptr) return fail(Status::kInternal, "thread cache: out of host memory for the pool");
  if (Status status = cached->enroll(); status != Status::kOk) return status;
  *out = std::move(cached);
  return Status::kOk;
}

// Bytes are counted, so the peak follows bytes in use.
ThreadCachedVariablePool::ThreadCachedVariablePool(std::unique_ptr<Algorithm> pool, std::size_t capacity,
                                                   PoolInfo info) noexcept
    : CacheHost(true),
      pool_(std::move(pool)),
      capacity_(capacity),
      classes_(pool_->cache_classes()),
      info_(std::move(info)) {}

ThreadCachedVariablePool::~ThreadCachedVariablePool() { leave(); }

// ---- The fast path -------------------------------------------------------

Status ThreadCachedVariablePool::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  Slot* slot = my_slot();
  std::size_t cls = 0;
  // The home shard answers for the classes (all shards share them): its
  // lines are this thread's, where shard 0's are another thread's.
  if (slot == nullptr || !slot->home->cache_class(size, alignment, &cls)) [[unlikely]] {
    return allocate_direct(size, alignment, out, slot);
  }
  Magazine& magazine = slot->magazines[cls];
  if (magazine.count == 0) [[unlikely]] return refill(size, alignment, out, *slot, cls);
  const std::uint32_t count = magazine.count - 1;
  *out = slot->home->unpark(magazine.handles[count], cls);
  magazine.count = count;
  const std::size_t bytes = slot->home->class_size(cls);
  relaxed_store(slot->count, slot->count - 1);
  relaxed_store(slot->parked_bytes, slot->parked_bytes - bytes);
  relaxed_store(slot->allocations, slot->allocations + 1);
  const std::int64_t in_use = slot->bytes + static_cast<std::int64_t>(bytes);
  relaxed_store(slot->bytes, in_use);
  if (in_use > slot->high) relaxed_store(slot->high, in_use);
  return Status::kOk;
}

Status ThreadCachedVariablePool::deallocate(void* ptr) noexcept {
  Slot* slot = my_slot();
  std::uint64_t handle = 0;
  std::size_t cls = 0;
  if (slot == nullptr) [[unlikely]] return deallocate_direct(ptr, nullptr, &pool_->judge(ptr));
  Algorithm::Shard* judge = nullptr;
  if (!pool_->park(*slot->home, ptr, &handle, &cls, &judge)) [[unlikely]] return deallocate_direct(ptr, slot, judge);
  Magazine& magazine = slot->magazines[cls];
  if (magazine.count == capacity_ || magazine.handles == nullptr) [[unlikely]] {
    park_slow(*slot, cls, handle);
    return Status::kOk;
  }
  push(*slot, cls, handle);
  return Status::kOk;
}

void ThreadCachedVariablePool::push(Slot& slot, std::size_t cls, std::uint64_t handle) noexcept {
  Magazine& magazine = slot.magazines[cls];
  magazine.handles[magazine.count++] = handle;
  const std::size_t bytes = slot.home->class_size(cls);
  relaxed_store(slot.count, slot.count + 1);
  relaxed_store(slot.parked_bytes, slot.parked_bytes + bytes);
  relaxed_store(slot.frees, slot.frees + 1);
  relaxed_store(slot.bytes, slot.bytes - static_cast<std::int64_t>(bytes));
}

// ---- The slow paths ------------------------------------------------------

std::unique_ptr<detail::CacheSlot> ThreadCachedVariablePool::make_slot() noexcept {
  auto made = std::unique_ptr<Slot>(new (std::nothrow) Slot);
  if (made != nullptr) made->magazines.reset(new (std::nothrow) Magazine[classes_]);
  if (made == nullptr || made->magazines == nullptr) return nullptr;
  made->home = &pool_->acquire_home();
  return made;
}

// A class's magazine is made on its first use by the thread.
bool ThreadCachedVariablePool::ready(Magazine& magazine) noexcept {
  if (magazine.handles == nullptr) magazine.handles.reset(new (std::nothrow) std::uint64_t[capacity_]);
  return magazine.handles != nullptr;
}

// A thread without a cache (in its teardown, or out of host memory for one)
// allocates from shard 0.
ThreadCachedVariablePool::Algorithm::Shard& ThreadCachedVariablePool::home_of(Slot* slot) noexcept {
  return slot != nullptr ? *slot->home : pool_->shard(0);
}

// Sizes above the classes, stricter alignments, bad requests and threads
// without a cache go to the home shard, which serves them or says what is
// wrong.
Status ThreadCachedVariablePool::allocate_direct(std::size_t size, std::size_t alignment, void** out,
                                                 Slot* slot) noexcept {
  Algorithm::Shard& shard = home_of(slot);
  const Status status = shard.allocate(size, alignment, out);
  if (status == Status::kOk) {
    count(slot, 1, 0, 0, static_cast<std::int64_t>(shard.counted_size(size)));
  } else {
    count(slot, 0, 0, 1, 0);
  }
  return status;
}

// An empty magazine takes up to half its capacity under one lock hold. When
// no slab can be carved, the pool's own allocate decides: TLSF may still
// serve the request.
Status ThreadCachedVariablePool::refill(std::size_t size, std::size_t alignment, void** out, Slot& slot,
                                        std::size_t cls) noexcept {
  Magazine& magazine = slot.magazines[cls];
  if (!ready(magazine)) return allocate_direct(size, alignment, out, &slot);
  const std::size_t taken = slot.home->take_parked(cls, magazine.handles.get(), capacity_ / 2);
  if (taken == 0) return allocate_direct(size, alignment, out, &slot);
  magazine.count = static_cast<std::uint32_t>(taken);
  relaxed_store(slot.count, slot.count + taken);
  relaxed_store(slot.parked_bytes, slot.parked_bytes + taken * slot.home->class_size(cls));
  return allocate(size, alignment, out);
}

// A refused park is judged by the owner's locked free: a TLSF block is
// freed, anything bad refused with its precise status.
Status ThreadCachedVariablePool::deallocate_direct(void* ptr, Slot* slot, Algorithm::Shard* judge) noexcept {
  std::size_t freed = 0;
  const Status status = judge->deallocate(ptr, &freed);
  if (status == Status::kOk) count(slot, 0, 1, 0, -static_cast<std::int64_t>(freed));
  return status;
}

// A full magazine gives its older half back first; a thread out of host
// memory for the magazine frees the block it parked straight away.
void ThreadCachedVariablePool::park_slow(Slot& slot, std::size_t cls, std::uint64_t handle) noexcept {
  Magazine& magazine = slot.magazines[cls];
  if (!ready(magazine)) {
    pool_->release_parked(&handle, 1);
    count(&slot, 0, 1, 0, -static_cast<std::int64_t>(slot.home->class_size(cls)));
    return;
  }
  if (magazine.count == capacity_) drain(slot, cls, capacity_ / 2);
  push(slot, cls, handle);
}

// Gives the oldest @p n parked blocks of class @p cls back in one lock hold.
void ThreadCachedVariablePool::drain(Slot& slot, std::size_t cls, std::size_t n) noexcept {
  Magazine& magazine = slot.magazines[cls];
  const std::size_t kept = magazine.count - n;
  pool_->release_parked(magazine.handles.get(), n);
  std::memmove(magazine.handles.get(), magazine.handles.get() + n, kept * sizeof(std::uint64_t));
  magazine.count = static_cast<std::uint32_t>(kept);
  relaxed_store(slot.count, slot.count - n);
  relaxed_store(slot.parked_bytes, slot.parked_bytes - n * slot.home->class_size(cls));
}

void ThreadCachedVariablePool::give_back(detail::CacheSlot& slot) noexcept {
  auto& mine = static_cast<Slot&>(slot);
  for (std::size_t cls = 0; cls < classes_; ++cls) {
    if (mine.magazines[cls].count != 0) drain(mine, cls, mine.magazines[cls].count);
  }
}

void ThreadCachedVariablePool::forget(detail::CacheSlot& slot) noexcept {
  pool_->release_home(*static_cast<Slot&>(slot).home);
}

// ---- Batches, statistics, upkeep -----------------------------------------

Status ThreadCachedVariablePool::allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                                std::size_t count) noexcept {
  Slot* mine = my_slot();
  Algorithm::Shard& shard = home_of(mine);
  const Status status = batch::allocate(shard, size, alignment, out, count);
  if (status == Status::kOk) {
    this->count(mine, count, 0, 0, static_cast<std::int64_t>(count * shard.counted_size(size)));
  } else {
    this->count(mine, 0, 0, 1, 0);
  }
  return status;
}

Status ThreadCachedVariablePool::deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept {
  std::size_t freed_bytes = 0;
  const Status status = batch::deallocate(*pool_, ptrs, count, freed, &freed_bytes);
  if (*freed != 0) this->count(slot(), 0, *freed, 0, -static_cast<std::int64_t>(freed_bytes));
  return status;
}

PoolStats ThreadCachedVariablePool::stats() const noexcept {
  return with_totals([this](const Totals& totals) { return stats_of(totals); });
}

PoolStats ThreadCachedVariablePool::stats_of(const Totals& totals) const noexcept {
  PoolStats stats;
  stats.allocations = totals.allocations;
  stats.frees = totals.frees;
  stats.failures = totals.failures;
  // Slots are read one after another while their threads run: the clamps
  // keep every figure one the pool could have had.
  stats.live_blocks = static_cast<std::uint64_t>(std::max<std::int64_t>(totals.net, 0));
  stats.bytes_in_use = static_cast<std::uint64_t>(std::max<std::int64_t>(totals.bytes, 0));
  stats.peak_bytes_in_use = static_cast<std::uint64_t>(std::max({totals.peak, totals.bytes, std::int64_t{0}}));
  stats.reserved = pool_->reservation();
  // Parked blocks were never counted as allocated: they are free blocks
  // that only their thread hands out.
  stats.fragmentation = pool_->fragmentation();
  stats.fragmentation.free_blocks += totals.parked;
  stats.fragmentation.free_bytes += totals.parked_bytes;
  if (stats.fragmentation.free_bytes != 0) {
    stats.fragmentation.external_fragmentation =
        1.0 - static_cast<double>(stats.fragmentation.largest_free_block) /
                  static_cast<double>(stats.fragmentation.free_bytes);
  }
  return stats;
}

Status ThreadCachedVariablePool::validate() const noexcept {
  return with_totals([this](const Totals& totals) { return pool_->validate_parked(totals.parked); });
}

std::size_t ThreadCachedVariablePool::trim() noexcept {
  if (Slot* mine = my_slot(); mine != nullptr) give_back(*mine);
  return pool_->trim();
}

}  // namespace nativepool
