// SPDX-License-Identifier: Apache-2.0
#include "nativepool/fixed_pool.hpp"

#include <algorithm>
#include <bit>
#include <new>
#include <utility>

#include "nativepool/math.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kAutoChunkBytes = std::size_t{1} << 20;
// Bounds the chunk table of an unbounded pool (its only up-front cost).
constexpr std::size_t kUnboundedChunks = 65536;
// Indices are 32-bit and 0xFFFFFFFF means "none".
constexpr std::size_t kMaxIndices = 0xFFFFFFFFU;

std::uint64_t pack(std::uint64_t tag, std::uint32_t index) noexcept { return tag << 32 | index; }
std::uint32_t index_of(std::uint64_t head) noexcept { return static_cast<std::uint32_t>(head); }
std::uint64_t tag_of(std::uint64_t head) noexcept { return head >> 32; }

}  // namespace

template <ThreadSafety Mode>
Status FixedPool<Mode>::create(const FixedPoolConfig& config, std::shared_ptr<Backend> backend,
                               std::unique_ptr<FixedPool>* out) noexcept {
  if (out == nullptr || !backend) return fail(Status::kInvalidArgument, "fixed pool: needs a backend and an output");
  if (config.block_size == 0) return fail(Status::kInvalidArgument, "fixed pool: block size must be positive");
  if (!is_pow2(config.alignment)) {
    return fail(Status::kInvalidArgument, "fixed pool: alignment %zu is not a power of two", config.alignment);
  }
  std::size_t stride = 0;
  if (!round_up_checked(config.block_size, config.alignment, &stride) || stride > (std::size_t{1} << 48)) {
    return fail(Status::kInvalidArgument, "fixed pool: block size %zu is too large", config.block_size);
  }
  std::size_t per_chunk = config.blocks_per_chunk;
  if (per_chunk == 0) {
    per_chunk = std::max<std::size_t>(1, std::bit_floor(std::max<std::size_t>(1, kAutoChunkBytes / stride)));
    if (config.max_blocks != 0) per_chunk = std::min(per_chunk, std::bit_ceil(config.max_blocks));
  }
  if (per_chunk > (std::size_t{1} << 31)) {
    return fail(Status::kInvalidArgument, "fixed pool: %zu blocks per chunk is too many", config.blocks_per_chunk);
  }
  per_chunk = std::bit_ceil(per_chunk);
  std::size_t max_chunks = kUnboundedChunks;
  if (config.max_blocks != 0) {
    max_chunks = (config.max_blocks + per_chunk - 1) / per_chunk;
  }
  max_chunks = std::min(max_chunks, kMaxIndices / per_chunk);
  if (config.max_blocks > max_chunks * per_chunk) {
    return fail(Status::kInvalidArgument,
                "fixed pool: max blocks %zu exceeds the %zu that 32-bit block indices can address",
                config.max_blocks, max_chunks * per_chunk);
  }
  if (stride > SIZE_MAX / per_chunk) {
    return fail(Status::kInvalidArgument, "fixed pool: a chunk of %zu blocks of %zu bytes overflows", per_chunk,
                stride);
  }
  std::unique_ptr<FixedPool> pool(new (std::nothrow)
                                      FixedPool(config, stride, per_chunk, max_chunks, std::move(backend)));
  if (pool == nullptr || pool->chunks_ == nullptr || !pool->publish_snapshot()) {
    return fail(Status::kInternal, "fixed pool: out of host memory for pool metadata");
  }
  const std::size_t initial = std::min(config.initial_blocks, pool->max_blocks_);
  std::size_t reserved_blocks = 0;
  {
    std::lock_guard growth(pool->growth_);
    while (reserved_blocks < initial) {
      const std::size_t before = pool->free_blocks();
      if (Status status = pool->grow(); status != Status::kOk) return status;
      reserved_blocks += pool->free_blocks() - before;
    }
  }
  *out = std::move(pool);
  return Status::kOk;
}

template <ThreadSafety Mode>
FixedPool<Mode>::FixedPool(const FixedPoolConfig& config, std::size_t stride, std::size_t blocks_per_chunk,
                           std::size_t max_chunks, std::shared_ptr<Backend> backend) noexcept
    : block_size_(config.block_size),
      alignment_(config.alignment),
      stride_(stride),
      chunk_shift_(floor_log2(blocks_per_chunk)),
      slot_mask_(static_cast<std::uint32_t>(blocks_per_chunk - 1)),
      max_chunks_(max_chunks),
      max_blocks_(config.max_blocks != 0 ? config.max_blocks : max_chunks * blocks_per_chunk),
      backend_(std::move(backend)),
      chunks_(new (std::nothrow) Chunk[max_chunks]) {}

template <ThreadSafety Mode>
FixedPool<Mode>::~FixedPool() {
  if (chunks_ == nullptr) return;
  for (std::size_t i = 0; i < max_chunks_; ++i) {
    const std::uintptr_t base = chunks_[i].base.load(std::memory_order_relaxed);
    if (base != 0) {
      backend_->deallocate(reinterpret_cast<void*>(base), chunks_[i].blocks * stride_, std::max<std::size_t>(alignment_, 64));
    }
  }
}

// ---- The fast path -------------------------------------------------------

template <ThreadSafety Mode>
Status FixedPool<Mode>::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  // size - 1 wraps for 0, so one comparison rejects both 0 and too large.
  if (size - 1 >= block_size_ || alignment > alignment_ || (alignment & (alignment - 1)) != 0) [[unlikely]] {
    return bad_request(size, alignment);
  }
  std::lock_guard guard(lock_);
  std::uint32_t index = pop();
  if (index == kNil) [[unlikely]] {
    if (Status status = allocate_slow(&index); status != Status::kOk) return status;
  }
  state(index).store(kAllocated, std::memory_order_relaxed);
  remove_free(1);
  *out = reinterpret_cast<void*>(address_of(index));
  return Status::kOk;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::deallocate(void* ptr, std::size_t* freed_size) noexcept {
  std::lock_guard guard(lock_);
  std::uint32_t index = kNil;
  if (!locate(ptr, &index)) [[unlikely]] return bad_free(ptr);
  auto& block_state = state(index);
  if constexpr (Mode == ThreadSafety::kLockFree) {
    // Only one of two racing frees of the same block may push it.
    std::uint8_t expected = kAllocated;
    if (!block_state.compare_exchange_strong(expected, kFree, std::memory_order_acq_rel)) [[unlikely]] {
      return bad_free(ptr);
    }
  } else {
    if (block_state.load(std::memory_order_relaxed) != kAllocated) [[unlikely]] return bad_free(ptr);
    block_state.store(kFree, std::memory_order_relaxed);
  }
  add_free(1);
  push(index, index);
  if (freed_size != nullptr) *freed_size = stride_;
  return Status::kOk;
}

template <ThreadSafety Mode>
std::uint32_t FixedPool<Mode>::pop() noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      const std::uint32_t index = index_of(head);
      if (index == kNil) return kNil;
      // May read the link of a block another thread just popped: harmless,
      // the tag has changed and the CAS below fails.
      const std::uint32_t next = link(index).load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(head, pack(tag_of(head) + 1, next), std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        return index;
      }
    }
  } else {
    const auto index = static_cast<std::uint32_t>(head_.load(std::memory_order_relaxed));
    if (index != kNil) head_.store(link(index).load(std::memory_order_relaxed), std::memory_order_relaxed);
    return index;
  }
}

template <ThreadSafety Mode>
void FixedPool<Mode>::push(std::uint32_t first, std::uint32_t last) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    do {
      link(last).store(index_of(head), std::memory_order_relaxed);
    } while (!head_.compare_exchange_weak(head, pack(tag_of(head) + 1, first), std::memory_order_release,
                                          std::memory_order_relaxed));
  } else {
    link(last).store(static_cast<std::uint32_t>(head_.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    head_.store(first, std::memory_order_relaxed);
  }
}

template <ThreadSafety Mode>
bool FixedPool<Mode>::locate(const void* ptr, std::uint32_t* index) const noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  const Snapshot& snapshot = *snapshot_.load(std::memory_order_acquire);
  const auto after = std::upper_bound(snapshot.bases.begin(), snapshot.bases.end(), address);
  if (after == snapshot.bases.begin()) return false;
  const auto position = static_cast<std::size_t>(after - snapshot.bases.begin()) - 1;
  const std::uint32_t chunk = snapshot.chunks[position];
  const std::size_t offset = address - snapshot.bases[position];
  const std::size_t slot = offset / stride_;
  if (slot >= chunks_[chunk].blocks || offset % stride_ != 0) return false;
  *index = static_cast<std::uint32_t>((std::size_t{chunk} << chunk_shift_) | slot);
  return true;
}

template <ThreadSafety Mode>
std::size_t FixedPool<Mode>::free_blocks() const noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    return free_count_.load(std::memory_order_relaxed);
  } else {
    return free_count_;
  }
}

template <ThreadSafety Mode>
void FixedPool<Mode>::add_free(std::size_t n) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    free_count_.fetch_add(n, std::memory_order_relaxed);
  } else {
    free_count_ += n;
  }
}

template <ThreadSafety Mode>
void FixedPool<Mode>::remove_free(std::size_t n) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    free_count_.fetch_sub(n, std::memory_order_relaxed);
  } else {
    free_count_ -= n;
  }
}

// ---- The slow paths ------------------------------------------------------

template <ThreadSafety Mode>
Status FixedPool<Mode>::allocate_slow(std::uint32_t* index) noexcept {
  std::lock_guard growth(growth_);
  // Another thread may have grown the pool, or freed blocks, meanwhile.
  for (*index = pop(); *index == kNil; *index = pop()) {
    if (Status status = grow(); status != Status::kOk) return status;
  }
  return Status::kOk;
}

template <ThreadSafety Mode>
std::uint32_t FixedPool<Mode>::blocks_in_slot(std::size_t slot) const noexcept {
  const std::size_t per_chunk = std::size_t{slot_mask_} + 1;
  return static_cast<std::uint32_t>(std::min(per_chunk, max_blocks_ - slot * per_chunk));
}

// Called with growth_ held (and lock_ in kMutex mode).
template <ThreadSafety Mode>
Status FixedPool<Mode>::grow() noexcept {
  std::size_t slot = 0;
  while (slot < max_chunks_ && chunks_[slot].base.load(std::memory_order_relaxed) != 0) ++slot;
  if (slot == max_chunks_ || slot * (std::size_t{slot_mask_} + 1) >= max_blocks_) {
    return fail(Status::kOutOfPoolMemory, "fixed pool of %zu-byte blocks is full: all %zu of max %zu blocks are in use",
                block_size_, max_blocks_ - free_blocks(), max_blocks_);
  }
  Chunk& chunk = chunks_[slot];
  const std::uint32_t count = blocks_in_slot(slot);
  const std::size_t bytes = std::size_t{count} * stride_;
  if (chunk.next == nullptr) {
    const std::size_t per_chunk = std::size_t{slot_mask_} + 1;
    chunk.next.reset(new (std::nothrow) std::atomic<std::uint32_t>[per_chunk]);
    chunk.state.reset(new (std::nothrow) std::atomic<std::uint8_t>[per_chunk]);
    if (chunk.next == nullptr || chunk.state == nullptr) {
      chunk.next.reset();
      chunk.state.reset();
      return fail(Status::kInternal, "fixed pool: out of host memory for chunk metadata");
    }
  }
  void* memory = nullptr;
  if (Status status = backend_->allocate(bytes, std::max<std::size_t>(alignment_, 64), &memory);
      status != Status::kOk) {
    return status;
  }
  const auto first = static_cast<std::uint32_t>(slot << chunk_shift_);
  for (std::uint32_t i = 0; i < count; ++i) {
    chunk.state[i].store(kFree, std::memory_order_relaxed);
    chunk.next[i].store(first + i + 1, std::memory_order_relaxed);
  }
  chunk.blocks = count;
  chunk.base.store(reinterpret_cast<std::uintptr_t>(memory), std::memory_order_release);
  // The chunk must be findable by free() before any of its blocks is handed out.
  if (!publish_snapshot()) {
    chunk.base.store(0, std::memory_order_relaxed);
    backend_->deallocate(memory, bytes, std::max<std::size_t>(alignment_, 64));
    return fail(Status::kInternal, "fixed pool: out of host memory for the chunk table");
  }
  const std::uint64_t reserved = reserved_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (reserved > peak_reserved_bytes_.load(std::memory_order_relaxed)) {
    peak_reserved_bytes_.store(reserved, std::memory_order_relaxed);
  }
  regions_.fetch_add(1, std::memory_order_relaxed);
  add_free(count);
  push(first, first + count - 1);
  return Status::kOk;
}

// Called with growth_ held, or during construction.
template <ThreadSafety Mode>
bool FixedPool<Mode>::publish_snapshot() noexcept try {
  auto snapshot = std::make_unique<Snapshot>();
  std::vector<std::pair<std::uintptr_t, std::uint32_t>> live;
  for (std::size_t i = 0; i < max_chunks_; ++i) {
    const std::uintptr_t base = chunks_[i].base.load(std::memory_order_relaxed);
    if (base != 0) live.emplace_back(base, static_cast<std::uint32_t>(i));
  }
  std::sort(live.begin(), live.end());
  for (const auto& [base, chunk] : live) {
    snapshot->bases.push_back(base);
    snapshot->chunks.push_back(chunk);
  }
  if constexpr (Mode != ThreadSafety::kLockFree) snapshots_.clear();
  snapshots_.push_back(std::move(snapshot));
  snapshot_.store(snapshots_.back().get(), std::memory_order_release);
  return true;
} catch (const std::bad_alloc&) {
  return false;
}

template <ThreadSafety Mode>
std::uint32_t FixedPool<Mode>::detach_all() noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    while (!head_.compare_exchange_weak(head, pack(tag_of(head) + 1, kNil), std::memory_order_acquire,
                                        std::memory_order_acquire)) {
    }
    return index_of(head);
  } else {
    const auto first = static_cast<std::uint32_t>(head_.load(std::memory_order_relaxed));
    head_.store(kNil, std::memory_order_relaxed);
    return first;
  }
}

template <ThreadSafety Mode>
std::size_t FixedPool<Mode>::trim() noexcept try {
  std::lock_guard guard(lock_);
  std::lock_guard growth(growth_);
  // Count chunk membership on a detached list, not from the state bytes: in
  // kLockFree mode a concurrent free may have marked a block free without
  // having pushed it yet, and its chunk must stay.
  std::vector<std::uint32_t> free_in_chunk(max_chunks_, 0);
  const std::uint32_t detached = detach_all();
  for (std::uint32_t i = detached; i != kNil; i = link(i).load(std::memory_order_relaxed)) {
    ++free_in_chunk[i >> chunk_shift_];
  }
  std::size_t released_bytes = 0;
  std::size_t released_blocks = 0;
  std::vector<std::pair<void*, std::size_t>> to_release;
  for (std::size_t c = 0; c < max_chunks_; ++c) {
    const std::uintptr_t base = chunks_[c].base.load(std::memory_order_relaxed);
    if (base != 0 && free_in_chunk[c] == chunks_[c].blocks) {
      to_release.emplace_back(reinterpret_cast<void*>(base), chunks_[c].blocks * stride_);
      released_blocks += chunks_[c].blocks;
      chunks_[c].base.store(0, std::memory_order_relaxed);
    }
  }
  // Relink the survivors into one chain and give it back in a single push.
  std::uint32_t first = kNil;
  std::uint32_t last = kNil;
  for (std::uint32_t i = detached, next = kNil; i != kNil; i = next) {
    next = link(i).load(std::memory_order_relaxed);
    if (chunks_[i >> chunk_shift_].base.load(std::memory_order_relaxed) == 0) continue;
    if (last == kNil) {
      first = i;
    } else {
      link(last).store(i, std::memory_order_relaxed);
    }
    last = i;
  }
  if (first != kNil) push(first, last);
  if (to_release.empty()) return 0;
  if (!publish_snapshot()) {
    // Without a snapshot the chunks must stay findable: keep them.
    return 0;
  }
  remove_free(released_blocks);
  for (const auto& [memory, bytes] : to_release) {
    backend_->deallocate(memory, bytes, std::max<std::size_t>(alignment_, 64));
    released_bytes += bytes;
  }
  reserved_bytes_.fetch_sub(released_bytes, std::memory_order_relaxed);
  regions_.fetch_sub(to_release.size(), std::memory_order_relaxed);
  return released_bytes;
} catch (const std::bad_alloc&) {
  return 0;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::bad_request(std::size_t size, std::size_t alignment) const noexcept {
  if (size == 0) return fail(Status::kInvalidArgument, "fixed pool: size must be positive");
  if (size > block_size_) {
    return fail(Status::kInvalidArgument, "fixed pool: %zu bytes requested from a pool of %zu-byte blocks", size,
                block_size_);
  }
  return fail(Status::kInvalidArgument,
              "fixed pool: alignment %zu must be a power of two no larger than the pool's %zu", alignment,
              alignment_);
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::bad_free(const void* ptr) const noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  if (ptr == nullptr) return fail(Status::kInvalidFree, "cannot free a null pointer");
  std::uint32_t index = kNil;
  if (locate(ptr, &index)) {
    return fail(Status::kDoubleFree, "0x%zx is already free (block of %zu bytes)", static_cast<std::size_t>(address),
                block_size_);
  }
  const Snapshot& snapshot = *snapshot_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < snapshot.bases.size(); ++i) {
    const std::size_t offset = address - snapshot.bases[i];
    if (address >= snapshot.bases[i] && offset < chunks_[snapshot.chunks[i]].blocks * stride_) {
      const std::uintptr_t block = address - offset % stride_;
      return fail(Status::kInvalidFree, "0x%zx points %zu bytes into the block at 0x%zx (size %zu)",
                  static_cast<std::size_t>(address), offset % stride_, static_cast<std::size_t>(block), block_size_);
    }
  }
  return fail(Status::kInvalidFree, "0x%zx is not a block of this pool", static_cast<std::size_t>(address));
}

// ---- Introspection -------------------------------------------------------

template <ThreadSafety Mode>
Fragmentation FixedPool<Mode>::fragmentation() const noexcept {
  Fragmentation result;
  result.free_blocks = free_blocks();
  result.free_bytes = result.free_blocks * stride_;
  result.largest_free_block = result.free_blocks != 0 ? block_size_ : 0;
  return result;
}

template <ThreadSafety Mode>
Reservation FixedPool<Mode>::reservation() const noexcept {
  return Reservation{reserved_bytes_.load(std::memory_order_relaxed),
                     peak_reserved_bytes_.load(std::memory_order_relaxed), regions_.load(std::memory_order_relaxed)};
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::validate() const noexcept try {
  std::lock_guard guard(lock_);
  std::lock_guard growth(growth_);
  std::size_t slots_in_use = 0;
  for (std::size_t c = 0; c < max_chunks_; ++c) {
    if (chunks_[c].base.load(std::memory_order_relaxed) != 0) slots_in_use = c + 1;
  }
  std::vector<bool> seen(slots_in_use << chunk_shift_, false);
  std::size_t listed = 0;
  for (std::uint32_t i = index_of(head_.load(std::memory_order_acquire)); i != kNil;
       i = link(i).load(std::memory_order_relaxed)) {
    const std::size_t chunk = i >> chunk_shift_;
    if (chunk >= slots_in_use || chunks_[chunk].base.load(std::memory_order_relaxed) == 0 ||
        (i & slot_mask_) >= chunks_[chunk].blocks) {
      return fail(Status::kCorrupted, "fixed pool: free list holds index %u outside every live chunk", i);
    }
    if (seen[i]) return fail(Status::kCorrupted, "fixed pool: free list loops at index %u", i);
    if (state(i).load(std::memory_order_relaxed) != kFree) {
      return fail(Status::kCorrupted, "fixed pool: allocated block %u is on the free list", i);
    }
    seen[i] = true;
    ++listed;
  }
  std::size_t free_states = 0;
  std::uint64_t bytes = 0;
  std::size_t live_chunks = 0;
  for (std::size_t c = 0; c < max_chunks_; ++c) {
    if (chunks_[c].base.load(std::memory_order_relaxed) == 0) continue;
    ++live_chunks;
    bytes += std::uint64_t{chunks_[c].blocks} * stride_;
    for (std::uint32_t s = 0; s < chunks_[c].blocks; ++s) {
      if (chunks_[c].state[s].load(std::memory_order_relaxed) == kFree) ++free_states;
    }
  }
  if (listed != free_blocks() || free_states != listed) {
    return fail(Status::kCorrupted, "fixed pool: %zu blocks listed free, %zu marked free, %zu counted free", listed,
                free_states, free_blocks());
  }
  const Snapshot& snapshot = *snapshot_.load(std::memory_order_acquire);
  if (snapshot.bases.size() != live_chunks || !std::is_sorted(snapshot.bases.begin(), snapshot.bases.end())) {
    return fail(Status::kCorrupted, "fixed pool: chunk snapshot does not match the %zu live chunks", live_chunks);
  }
  for (std::size_t i = 0; i < snapshot.bases.size(); ++i) {
    if (chunks_[snapshot.chunks[i]].base.load(std::memory_order_relaxed) != snapshot.bases[i]) {
      return fail(Status::kCorrupted, "fixed pool: snapshot entry %zu names the wrong chunk", i);
    }
  }
  if (bytes != reserved_bytes_.load(std::memory_order_relaxed) ||
      live_chunks != regions_.load(std::memory_order_relaxed)) {
    return fail(Status::kCorrupted, "fixed pool: reservation says %llu bytes in %llu chunks, chunks hold %llu in %zu",
                static_cast<unsigned long long>(reserved_bytes_.load()),
                static_cast<unsigned long long>(regions_.load()), static_cast<unsigned long long>(bytes), live_chunks);
  }
  return Status::kOk;
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "fixed pool: out of host memory while validating");
}

template class FixedPool<ThreadSafety::kNone>;
template class FixedPool<ThreadSafety::kMutex>;
template class FixedPool<ThreadSafety::kLockFree>;

}  // namespace nativepool
