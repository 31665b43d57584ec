// SPDX-License-Identifier: Apache-2.0
#include "nativepool/thread_cache.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <unordered_map>
#include <utility>

#include "nativepool/block_cache.hpp"
#include "nativepool/math.hpp"

namespace nativepool {
namespace {

using detail::CacheBinding;
using detail::CacheOwner;
using detail::CacheSlot;
using detail::fast_bindings;
using detail::kFastBindings;
using detail::relaxed_load;
using detail::relaxed_store;

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

using Binding = CacheBinding;

// Every slot this thread has, including slots of pools since destroyed
// (never dereferenced: their ids are not in the registry). The destructor
// runs as the thread ends and gives the slots of live pools back.
struct ThreadBindings {
  std::vector<Binding> all;
  std::size_t prune_at = kFastBindings;
  ~ThreadBindings();
};

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

}  // namespace

namespace detail {

constinit thread_local CacheBinding fast_bindings[kFastBindings];

constexpr std::align_val_t kLine{64};

void LinesDelete::operator()(std::uint32_t* lines) const noexcept { ::operator delete[](lines, kLine); }

// A plain new[] puts the indices beside whatever malloc put next to them:
// the main thread's cache could share a line with the pool's chunk
// snapshot, which every other thread's free reads.
std::unique_ptr<std::uint32_t[], LinesDelete> allocate_lines(std::size_t count) noexcept {
  const std::size_t bytes = round_up(count * sizeof(std::uint32_t), std::size_t{64});
  return std::unique_ptr<std::uint32_t[], LinesDelete>(
      static_cast<std::uint32_t*>(::operator new[](bytes, kLine, std::nothrow)));
}

// ---- What every pool with thread caches shares ---------------------------

Status CacheHost::check_create(const void* pool, const void* out, std::size_t capacity) noexcept {
  if (out == nullptr || pool == nullptr) {
    return fail(Status::kInvalidArgument, "thread cache: needs a pool and a place to store it");
  }
  if (capacity < 2 || capacity > kMaxThreadCacheBlocks) {
    return fail(Status::kInvalidArgument, "thread cache: a capacity of %zu blocks is outside [2, %zu]", capacity,
                kMaxThreadCacheBlocks);
  }
  return Status::kOk;
}

Status CacheHost::enroll() noexcept try {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.owners.emplace(r.next_id, static_cast<CacheOwner*>(this));
  id_ = r.next_id++;
  return Status::kOk;
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "thread cache: out of host memory for the pool registry");
}

// Once out of the registry, no ending thread touches this pool's slots; a
// thread ending right now holds the registry lock, and finishes first.
void CacheHost::leave() noexcept {
  if (id_ == 0) return;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.owners.erase(id_);
}

CacheSlot* CacheHost::bind_slot() noexcept {
  if (thread_ending) return nullptr;
  CacheSlot* slot = find_binding(id_);
  if (slot == nullptr) {
    std::unique_ptr<CacheSlot> made = make_slot();
    if (made == nullptr) return nullptr;
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

void CacheHost::count(CacheSlot* slot, std::uint64_t allocations, std::uint64_t frees, std::uint64_t failures,
                      std::int64_t bytes) noexcept {
  if (slot != nullptr) {
    relaxed_store(slot->allocations, slot->allocations + allocations);
    relaxed_store(slot->frees, slot->frees + frees);
    relaxed_store(slot->failures, slot->failures + failures);
    relaxed_store(slot->bytes, slot->bytes + bytes);
    const std::int64_t level = peak_in_bytes_ ? slot->bytes : slot->net();
    if (level > slot->high) relaxed_store(slot->high, level);
    return;
  }
  std::lock_guard lock(mutex_);
  retired_.allocations += allocations;
  retired_.frees += frees;
  retired_.failures += failures;
  retired_.bytes += bytes;
  peak_ = std::max(peak_, peak_bound());
}

// Called with mutex_ held. Every thread's level is at most its own peak, so
// at any moment the pool's is at most the sum of the peaks (ended threads
// count with what they left behind; their peaks are in peak_).
std::int64_t CacheHost::peak_bound() const noexcept {
  std::int64_t bound = peak_in_bytes_ ? retired_.bytes : retired_.net();
  for (const auto& slot : slots_) bound += relaxed_load(slot->high);
  return bound;
}

void CacheHost::retire(CacheSlot* slot) noexcept {
  std::lock_guard lock(mutex_);
  if (slot->count != 0) give_back(*slot);
  forget(*slot);
  peak_ = std::max(peak_, peak_bound());
  retired_.allocations += slot->allocations;
  retired_.frees += slot->frees;
  retired_.failures += slot->failures;
  retired_.bytes += slot->bytes;
  const auto it = std::find_if(slots_.begin(), slots_.end(), [slot](const auto& s) { return s.get() == slot; });
  if (it != slots_.end()) {
    std::swap(*it, slots_.back());
    slots_.pop_back();
  }
}

// Called with mutex_ held.
auto CacheHost::totals_locked() const noexcept -> Totals {
  Totals totals;
  totals.allocations = retired_.allocations;
  totals.frees = retired_.frees;
  totals.failures = retired_.failures;
  totals.bytes = retired_.bytes;
  for (const auto& slot : slots_) {
    totals.allocations += relaxed_load(slot->allocations);
    totals.frees += relaxed_load(slot->frees);
    totals.failures += relaxed_load(slot->failures);
    totals.bytes += relaxed_load(slot->bytes);
    totals.parked += relaxed_load(slot->count);
    totals.parked_bytes += relaxed_load(slot->parked_bytes);
  }
  totals.net = static_cast<std::int64_t>(totals.allocations - totals.frees);
  totals.peak = std::max(peak_, peak_bound());
  return totals;
}

}  // namespace detail

// ---- FixedPool's caches ---------------------------------------------------

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::create(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity, PoolInfo info,
                                      std::unique_ptr<Pool>* out, FreeCheck check) noexcept {
  if (Status status = check_create(pool.get(), out, capacity); status != Status::kOk) return status;
  std::unique_ptr<ThreadCachedPool> cached(new (std::nothrow)
                                               ThreadCachedPool(std::move(pool), capacity, std::move(info), check));
  if (cached == nullptr) return fail(Status::kInternal, "thread cache: out of host memory for the pool");
  if (Status status = cached->enroll(); status != Status::kOk) return status;
  *out = std::move(cached);
  return Status::kOk;
}

template <ThreadSafety Mode>
ThreadCachedPool<Mode>::ThreadCachedPool(std::unique_ptr<FixedPool<Mode>> pool, std::size_t capacity,
                                         PoolInfo info, FreeCheck check) noexcept
    : CacheHost(false),
      pool_(std::move(pool)),
      capacity_(capacity),
      block_size_(pool_->block_size()),
      alignment_(pool_->alignment()),
      stride_(pool_->stride()),
      check_(check),
      parking_(*pool_),
      info_(std::move(info)) {}

template <ThreadSafety Mode>
ThreadCachedPool<Mode>::~ThreadCachedPool() {
  leave();
  forget_parked_counters(this);
}

// ---- The fast path -------------------------------------------------------
// It calls nothing but its slow paths, and those as its last act (tail
// calls): binding a slot or draining a full cache happens there, never in
// the middle of the fast path with its state to keep across the call.

// Parks a checked block in a cache with room.
template <ThreadSafety Mode>
[[gnu::always_inline]] inline void ThreadCachedPool<Mode>::keep(Slot& slot, std::uint32_t index) noexcept {
  slot.blocks[slot.count] = index;
  relaxed_store(slot.count, slot.count + 1);
  relaxed_store(slot.frees, slot.frees + 1);
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  Slot* slot = my_bound_slot();
  // size - 1 wraps for 0: one comparison rejects both 0 and too large.
  if (slot == nullptr || slot->count == 0 || size - 1 >= block_size_ || alignment > alignment_ ||
      (alignment & (alignment - 1)) != 0) [[unlikely]] {
    return allocate_slow(size, alignment, out);
  }
  const std::size_t count = slot->count - 1;
  *out = pool_->unpark(slot->blocks[count]);
  relaxed_store(slot->count, count);
  relaxed_store(slot->allocations, slot->allocations + 1);
  if (const std::int64_t net = slot->net(); net > slot->high) relaxed_store(slot->high, net);
  return Status::kOk;
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::deallocate(void* ptr) noexcept {
  Slot* slot = my_bound_slot();
  if (slot == nullptr) [[unlikely]] return deallocate_slow(ptr);
  std::uint32_t index = 0;
  const Status status =
      check_ == FreeCheck::kAtomic ? pool_->park(ptr, &index) : pool_->park_unchecked_races(ptr, &index);
  if (status != Status::kOk) [[unlikely]] return status;
  if (slot->count == capacity_) [[unlikely]] return keep_after_drain(*slot, index);
  keep(*slot, index);
  return Status::kOk;
}

// ---- The slow paths ------------------------------------------------------

template <ThreadSafety Mode>
std::unique_ptr<detail::CacheSlot> ThreadCachedPool<Mode>::make_slot() noexcept {
  auto made = std::unique_ptr<Slot>(new (std::nothrow) Slot);
  if (made != nullptr) made->blocks = detail::allocate_lines(capacity_);
  if (made == nullptr || made->blocks == nullptr) return nullptr;
  return made;
}

// Binds the calling thread's slot; an empty cache takes up to half its
// capacity in one chain; a bad request, or a thread without a cache, goes to
// the pool, which says what is wrong.
template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::allocate_slow(std::size_t size, std::size_t alignment, void** out) noexcept {
  Slot* slot = my_slot();
  if (slot == nullptr || size - 1 >= block_size_ || alignment > alignment_ || (alignment & (alignment - 1)) != 0) {
    const Status status = pool_->allocate(size, alignment, out);
    count(slot, status == Status::kOk ? 1 : 0, 0, status == Status::kOk ? 0 : 1, 0);
    return status;
  }
  if (slot->count != 0) return allocate(size, alignment, out);  // only its binding was missing
  std::size_t taken = 0;
  if (Status status = pool_->take_parked(slot->blocks.get(), capacity_ / 2, &taken); status != Status::kOk) {
    count(slot, 0, 0, 1, 0);
    return status;
  }
  relaxed_store(slot->count, taken);
  return allocate(size, alignment, out);
}

// Binds the calling thread's slot and frees through it; a thread without
// one frees to the pool, counted in the pool's own record.
template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::deallocate_slow(void* ptr) noexcept {
  if (my_slot() != nullptr) return deallocate(ptr);
  std::size_t freed = 0;
  const Status status = pool_->deallocate(ptr, &freed);
  if (status == Status::kOk) count(nullptr, 0, 1, 0, 0);
  return status;
}

// A full cache gives its older half back, so that the next frees and
// allocations both find room, and keeps the block just parked.
template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::keep_after_drain(Slot& slot, std::uint32_t index) noexcept {
  drain(slot, capacity_ / 2);
  keep(slot, index);
  return Status::kOk;
}

// Gives the oldest @p n parked blocks back in one chain.
template <ThreadSafety Mode>
void ThreadCachedPool<Mode>::drain(Slot& slot, std::size_t n) noexcept {
  const std::size_t kept = slot.count - n;
  relaxed_store(slot.count, kept);
  pool_->release_parked(slot.blocks.get(), n);
  std::memmove(slot.blocks.get(), slot.blocks.get() + n, kept * sizeof(std::uint32_t));
}

template <ThreadSafety Mode>
void ThreadCachedPool<Mode>::give_back(detail::CacheSlot& slot) noexcept {
  auto& mine = static_cast<Slot&>(slot);
  pool_->release_parked(mine.blocks.get(), mine.count);
}

// ---- Batches, statistics, upkeep -----------------------------------------

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                              std::size_t count) noexcept {
  const Status status = pool_->allocate_batch(size, alignment, out, count);
  this->count(slot(), status == Status::kOk ? count : 0, 0, status == Status::kOk ? 0 : 1, 0);
  return status;
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept {
  const Status status = pool_->deallocate_batch(ptrs, count, freed, nullptr);
  if (*freed != 0) this->count(slot(), 0, *freed, 0, 0);
  return status;
}

template <ThreadSafety Mode>
PoolStats ThreadCachedPool<Mode>::stats() const noexcept {
  return with_totals([this](const Totals& totals) { return stats_of(totals); });
}

template <ThreadSafety Mode>
PoolStats ThreadCachedPool<Mode>::stats_of(const Totals& totals) const noexcept {
  PoolStats stats;
  stats.allocations = totals.allocations;
  stats.frees = totals.frees;
  stats.failures = totals.failures;
  // Slots are read one after another while their threads run: the clamps
  // keep every figure one the pool could have had.
  const auto live = static_cast<std::uint64_t>(std::max<std::int64_t>(totals.net, 0));
  // cached_blocks are those of caches that took them from the pool as
  // allocations (explicit BlockCaches, Java's thread caches).
  stats.cached_blocks = std::min(parked_blocks(this), live);
  stats.cached_bytes = stats.cached_blocks * stride_;
  stats.live_blocks = live - stats.cached_blocks;
  stats.bytes_in_use = stats.live_blocks * stride_;
  stats.peak_bytes_in_use = static_cast<std::uint64_t>(std::max(totals.peak, totals.net)) * stride_;
  stats.reserved = pool_->reservation();
  // This pool's own caches are transparent: their blocks were never counted
  // as allocated, and are free blocks that only their thread hands out.
  stats.fragmentation = pool_->fragmentation();
  stats.fragmentation.free_blocks += totals.parked;
  stats.fragmentation.free_bytes += totals.parked * stride_;
  if (stats.fragmentation.free_blocks != 0) stats.fragmentation.largest_free_block = block_size_;
  return stats;
}

template <ThreadSafety Mode>
Status ThreadCachedPool<Mode>::validate() const noexcept {
  return with_totals(
      [this](const Totals& totals) { return pool_->validate_parked(totals.parked + parked_blocks(this)); });
}

template <ThreadSafety Mode>
std::size_t ThreadCachedPool<Mode>::trim() noexcept {
  if (Slot* mine = my_slot(); mine != nullptr && mine->count != 0) drain(*mine, mine->count);
  return pool_->trim();
}

template class ThreadCachedPool<ThreadSafety::kMutex>;
template class ThreadCachedPool<ThreadSafety::kLockFree>;

}  // namespace nativepool
