// SPDX-License-Identifier: Apache-2.0
#include "nativepool/thread_cache.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <unordered_map>
#include <utility>

#include "nativepool/block_cache.hpp"

namespace nativepool {
namespace {

using detail::CacheOwner;
using detail::CacheSlot;

// Pools with thread caches that still exist, by id. Locked on pool creation
// and destruction, on a thread's first use of a pool and as a thread ends:
// never on the cache operations.
struct Registry {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, CacheOwner*> owners;
  std::uint64_t next_id = 1;  // 0 marks an empty binding
};

// Never destroyed: threads may still end after static destruction began.
Registry& registry() noexcept {
  static auto* instance = new Registry;
  return *instance;
}

struct Binding {
  std::uint64_t pool = 0;
  CacheSlot* slot = nullptr;
};

constexpr std::size_t kFastBindings = 8;  // a power of two

// Every slot this thread has, including slots of pools since destroyed
// (never dereferenced: their ids are not in the registry). The destructor
// runs as the thread ends and gives the slots of live pools back.
struct ThreadBindings {
  std::vector<Binding> all;
  std::size_t prune_at = kFastBindings;
  ~ThreadBindings();
};

// The fast path's table, by id modulo its size. Constant-initialised and
// trivially destructible, so reading it needs no guard and stays valid while
// the thread's other thread-locals are destroyed.
thread_local Binding fast_bindings[kFastBindings];
thread_local bool thread_ending = false;
thread_local ThreadBindings bindings;

ThreadBindings::~ThreadBindings() {
  thread_ending = true;
  for (Binding& binding : fast_bindings) binding = Binding{};
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (const Binding& binding : all) {
    const auto owner = r.owners.find(binding.pool);
    if (owner != r.owners.end()) owner->second->retire(binding.slot);
  }
}

CacheSlot* find_binding(std::uint64_t pool) noexcept {
  for (const Binding& binding : bindings.all) {
    if (binding.pool == pool) return binding.slot;
  }
  return nullptr;
}

// Drops the bindings of destroyed pools once the table has doubled since the
// last time, so that a thread outliving many pools keeps a bounded table.
bool add_binding(std::uint64_t pool, CacheSlot* slot) noexcept try {
  ThreadBindings& mine = bindings;
  if (mine.all.size() >= mine.prune_at) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::erase_if(mine.all, [&r](const Binding& b) { return !r.owners.contains(b.pool); });
    mine.prune_at = std::max(kFastBindings, 2 * mine.all.size());
  }
  mine.all.push_back({pool, slot});
  return true;
} catch (const std::bad_alloc&) {
  return false;
}

template <class T>
T load(const T& field) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

template <class T>
void store(T& field, T value) noexcept {
  std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

}  // namespace

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::create(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity, PoolInfo info,
                                      std::unique_ptr<Pool>* out) noexcept {
  if (out == nullptr || pool == nullptr) {
    return fail(Status::kInvalidArgument, "thread cache: needs a pool and a place to store it");
  }
  if (capacity < 2 || capacity > kMaxThreadCacheBlocks) {
    return fail(Status::kInvalidArgument, "thread cache: a capacity of %zu blocks is outside [2, %zu]", capacity,
                kMaxThreadCacheBlocks);
  }
  std::unique_ptr<ThreadCachedPool> cached(new (std::nothrow)
                                               ThreadCachedPool(std::move(pool), capacity, std::move(info)));
  if (cached == nullptr) return fail(Status::kInternal, "thread cache: out of host memory for the pool");
  Registry& r = registry();
  try {
    std::lock_guard lock(r.mutex);
    r.owners.emplace(r.next_id, static_cast<CacheOwner*>(cached.get()));
    cached->id_ = r.next_id++;
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "thread cache: out of host memory for the pool registry");
  }
  *out = std::move(cached);
  return Status::kOk;
}

template <ThreadSafety Mode>
ThreadCachedPool<Mode>::ThreadCachedPool(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity,
                                         PoolInfo info) noexcept
    : pool_(std::move(pool)),
      capacity_(capacity),
      block_size_(pool_->block_size()),
      alignment_(pool_->alignment()),
      stride_(pool_->stride()),
      info_(std::move(info)) {}

// Once out of the registry, no ending thread touches this pool's slots; a
// thread ending right now holds the registry lock, and finishes first.
template <ThreadSafety Mode>
ThreadCachedPool<Mode>::~ThreadCachedPool() {
  if (id_ != 0) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.owners.erase(id_);
  }
  forget_parked_counters(this);
}

// ---- The fast path -------------------------------------------------------

template <ThreadSafety Mode>
[[gnu::always_inline]] inline auto ThreadCachedPool<Mode>::slot() noexcept -> Slot* {
  const Binding& binding = fast_bindings[id_ & (kFastBindings - 1)];
  if (binding.pool == id_) [[likely]] return binding.slot;
  return bind_slot();
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  Slot* slot = this->slot();
  // size - 1 wraps for 0: one comparison rejects both 0 and too large.
  if (slot == nullptr || slot->count == 0 || size - 1 >= block_size_ || alignment > alignment_ ||
      (alignment & (alignment - 1)) != 0) [[unlikely]] {
    return allocate_slow(size, alignment, out, slot);
  }
  const std::size_t count = slot->count - 1;
  *out = pool_->unpark(slot->blocks[count]);
  store(slot->count, count);
  store(slot->allocations, slot->allocations + 1);
  const std::int64_t net = slot->net + 1;
  store(slot->net, net);
  if (net > slot->high) store(slot->high, net);
  return Status::kOk;
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::deallocate(void* ptr) noexcept {
  Slot* slot = this->slot();
  if (slot == nullptr) [[unlikely]] return deallocate_unbound(ptr);
  std::uint32_t index = 0;
  if (Status status = pool_->park(ptr, &index); status != Status::kOk) [[unlikely]] return status;
  if (slot->count == capacity_) [[unlikely]] drain(*slot, capacity_ / 2);
  slot->blocks[slot->count] = index;
  store(slot->count, slot->count + 1);
  store(slot->frees, slot->frees + 1);
  store(slot->net, slot->net - 1);
  return Status::kOk;
}

// ---- The slow paths ------------------------------------------------------

template <ThreadSafety Mode>
auto ThreadCachedPool<Mode>::bind_slot() noexcept -> Slot* {
  if (thread_ending) return nullptr;
  Slot* slot = find_binding(id_);
  if (slot == nullptr) {
    auto made = std::unique_ptr<Slot>(new (std::nothrow) Slot);
    if (made != nullptr) made->blocks.reset(new (std::nothrow) std::uint32_t[capacity_]);
    if (made == nullptr || made->blocks == nullptr) return nullptr;
    slot = made.get();
    try {
      std::lock_guard lock(mutex_);
      slots_.push_back(std::move(made));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
    if (!add_binding(id_, slot)) {
      retire(slot);  // nothing parked yet: only unlinks it
      return nullptr;
    }
  }
  fast_bindings[id_ & (kFastBindings - 1)] = Binding{id_, slot};
  return slot;
}

// An empty cache takes up to half its capacity in one chain; a bad request,
// or a thread without a cache, goes to the pool, which says what is wrong.
template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::allocate_slow(std::size_t size, std::size_t alignment, void** out,
                                             Slot* slot) noexcept {
  if (slot == nullptr || size - 1 >= block_size_ || alignment > alignment_ || (alignment & (alignment - 1)) != 0) {
    const Status status = pool_->allocate(size, alignment, out);
    count(slot, status == Status::kOk ? 1 : 0, 0, status == Status::kOk ? 0 : 1);
    return status;
  }
  std::size_t taken = 0;
  if (Status status = pool_->take_parked(slot->blocks.get(), capacity_ / 2, &taken); status != Status::kOk) {
    count(slot, 0, 0, 1);
    return status;
  }
  store(slot->count, taken);
  return allocate(size, alignment, out);
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::deallocate_unbound(void* ptr) noexcept {
  std::size_t freed = 0;
  const Status status = pool_->deallocate(ptr, &freed);
  if (status == Status::kOk) count(nullptr, 0, 1, 0);
  return status;
}

// Gives the oldest @p n parked blocks back in one chain: a full cache its
// older half, so that the next frees and allocations both find room.
template <ThreadSafety Mode>
void ThreadCachedPool<Mode>::drain(Slot& slot, std::size_t n) noexcept {
  const std::size_t kept = slot.count - n;
  store(slot.count, kept);
  pool_->release_parked(slot.blocks.get(), n);
  std::memmove(slot.blocks.get(), slot.blocks.get() + n, kept * sizeof(std::uint32_t));
}

// Counts on the caller's slot, or, for a thread without one, in the pool's
// own record (locked: this is the rare path).
template <ThreadSafety Mode>
void ThreadCachedPool<Mode>::count(Slot* slot, std::uint64_t allocations, std::uint64_t frees,
                                   std::uint64_t failures) noexcept {
  const auto change = static_cast<std::int64_t>(allocations) - static_cast<std::int64_t>(frees);
  if (slot != nullptr) {
    store(slot->allocations, slot->allocations + allocations);
    store(slot->frees, slot->frees + frees);
    store(slot->failures, slot->failures + failures);
    store(slot->net, slot->net + change);
    if (slot->net > slot->high) store(slot->high, slot->net);
    return;
  }
  std::lock_guard lock(mutex_);
  retired_.allocations += allocations;
  retired_.frees += frees;
  retired_.failures += failures;
  retired_.net += change;
  peak_ = std::max(peak_, peak_bound());
}

// Called with mutex_ held. Every thread's net is at most its own peak, so at
// any moment the blocks in use are at most the sum of the peaks (ended
// threads count with what they left behind; their peaks are in peak_).
template <ThreadSafety Mode>
std::int64_t ThreadCachedPool<Mode>::peak_bound() const noexcept {
  std::int64_t bound = retired_.net;
  for (const auto& slot : slots_) bound += load(slot->high);
  return bound;
}

template <ThreadSafety Mode>
void ThreadCachedPool<Mode>::retire(Slot* slot) noexcept {
  std::lock_guard lock(mutex_);
  if (slot->count != 0) pool_->release_parked(slot->blocks.get(), slot->count);
  peak_ = std::max(peak_, peak_bound());
  retired_.allocations += slot->allocations;
  retired_.frees += slot->frees;
  retired_.failures += slot->failures;
  retired_.net += slot->net;
  const auto it = std::find_if(slots_.begin(), slots_.end(), [slot](const auto& s) { return s.get() == slot; });
  if (it != slots_.end()) {
    std::swap(*it, slots_.back());
    slots_.pop_back();
  }
}

// ---- Batches, statistics, upkeep -----------------------------------------

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                              std::size_t count) noexcept {
  const Status status = pool_->allocate_batch(size, alignment, out, count);
  this->count(slot(), status == Status::kOk ? count : 0, 0, status == Status::kOk ? 0 : 1);
  return status;
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept {
  const Status status = pool_->deallocate_batch(ptrs, count, freed, nullptr);
  if (*freed != 0) this->count(slot(), 0, *freed, 0);
  return status;
}

template <ThreadSafety Mode>
PoolStats ThreadCachedPool<Mode>::stats() const noexcept {
  PoolStats stats;
  std::int64_t net = 0;
  std::int64_t peak = 0;
  std::uint64_t parked = 0;
  {
    std::lock_guard lock(mutex_);
    stats.allocations = retired_.allocations;
    stats.frees = retired_.frees;
    stats.failures = retired_.failures;
    net = retired_.net;
    for (const auto& slot : slots_) {
      stats.allocations += load(slot->allocations);
      stats.frees += load(slot->frees);
      stats.failures += load(slot->failures);
      net += load(slot->net);
      parked += load(slot->count);
    }
    peak = std::max(peak_, peak_bound());
  }
  // Slots are read one after another while their threads run: the clamps
  // keep every figure one the pool could have had.
  const auto live = static_cast<std::uint64_t>(std::max<std::int64_t>(net, 0));
  // cached_blocks are those of caches that took them from the pool as
  // allocations (explicit BlockCaches, Java's thread caches).
  stats.cached_blocks = std::min(parked_blocks(this), live);
  stats.cached_bytes = stats.cached_blocks * stride_;
  stats.live_blocks = live - stats.cached_blocks;
  stats.bytes_in_use = stats.live_blocks * stride_;
  stats.peak_bytes_in_use = static_cast<std::uint64_t>(std::max(peak, net)) * stride_;
  stats.reserved = pool_->reservation();
  // This pool's own caches are transparent: their blocks were never counted
  // as allocated, and are free blocks that only their thread hands out.
  stats.fragmentation = pool_->fragmentation();
  stats.fragmentation.free_blocks += parked;
  stats.fragmentation.free_bytes += parked * stride_;
  if (stats.fragmentation.free_blocks != 0) stats.fragmentation.largest_free_block = block_size_;
  return stats;
}

template <ThreadSafety Mode>
std::uint64_t ThreadCachedPool<Mode>::thread_cached_blocks() const noexcept {
  std::lock_guard lock(mutex_);
  std::uint64_t parked = 0;
  for (const auto& slot : slots_) parked += load(slot->count);
  return parked;
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::validate() const noexcept {
  return pool_->validate_parked(thread_cached_blocks());
}

template <ThreadSafety Mode>
std::size_t ThreadCachedPool<Mode>::trim() noexcept {
  if (Slot* mine = slot(); mine != nullptr && mine->count != 0) drain(*mine, mine->count);
  return pool_->trim();
}

template class ThreadCachedPool<ThreadSafety::kMutex>;
template class ThreadCachedPool<ThreadSafety::kLockFree>;

}  // namespace nativepool
