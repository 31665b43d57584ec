// SPDX-License-Identifier: Apache-2.0
#include "nativepool/fixed_pool.hpp"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <new>
#include <utility>

#include "nativepool/math.hpp"

namespace nativepool {
namespace {

constexpr std::size_t kAutoChunkBytes = std::size_t{1} << 20;
// Bounds the chunk table, the one metadata cost paid up front.
constexpr std::size_t kMaxChunks = 65536;
// Indices are 32-bit and 0xFFFFFFFF means "none".
constexpr std::size_t kMaxBlocks = 0xFFFFFFFEU;
constexpr std::size_t kMaxBlocksPerChunk = std::size_t{1} << 31;
// No address space holds more, so anything larger is a caller's mistake.
constexpr std::size_t kMaxChunkBytes = std::size_t{1} << 48;
// Chunks start on a cache line, so blocks of different chunks never share one.
constexpr std::size_t kMinChunkAlignment = 64;
constexpr std::uint8_t kGenerationMask = 0x3F;  // the state byte's upper six bits

std::uint64_t pack(std::uint64_t tag, std::uint32_t index) noexcept { return tag << 32 | index; }
std::uint32_t index_of(std::uint64_t head) noexcept { return static_cast<std::uint32_t>(head); }
std::uint64_t tag_of(std::uint64_t head) noexcept { return head >> 32; }
std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return a / b + (a % b != 0 ? 1 : 0); }

}  // namespace

template <ThreadSafety Mode>
Status FixedPool<Mode>::create(const FixedPoolConfig& config, std::shared_ptr<Backend> backend,
                               std::unique_ptr<FixedPool>* out) noexcept {
  if (out == nullptr || !backend) {
    return fail(Status::kInvalidArgument, "fixed pool: needs a backend and a place to store the pool");
  }
  if (config.block_size == 0) return fail(Status::kInvalidArgument, "fixed pool: block size must be positive");
  if (!is_pow2(config.alignment)) {
    return fail(Status::kInvalidArgument, "fixed pool: alignment %zu is not a power of two", config.alignment);
  }
  std::size_t stride = 0;
  if (!round_up_checked(config.block_size, config.alignment, &stride) || stride > kMaxChunkBytes) {
    return fail(Status::kInvalidArgument, "fixed pool: block size %zu at alignment %zu exceeds 2^48 bytes",
                config.block_size, config.alignment);
  }
  if (config.max_blocks > kMaxBlocks) {
    return fail(Status::kInvalidArgument, "fixed pool: max blocks %zu exceeds the %zu that 32-bit indices address",
                config.max_blocks, kMaxBlocks);
  }
  std::size_t per_chunk = config.blocks_per_chunk;
  if (per_chunk == 0) {
    per_chunk = std::bit_floor(std::max<std::size_t>(1, kAutoChunkBytes / stride));
    // Metadata arrays are sized per chunk: no bigger than the pool may get.
    if (config.max_blocks != 0) per_chunk = std::min(per_chunk, std::bit_ceil(config.max_blocks));
    per_chunk = std::max(per_chunk, ceil_div(config.max_blocks, kMaxChunks));
  }
  if (per_chunk > kMaxBlocksPerChunk) {
    return fail(Status::kInvalidArgument, "fixed pool: %zu blocks per chunk exceeds %zu", per_chunk,
                kMaxBlocksPerChunk);
  }
  per_chunk = std::bit_ceil(per_chunk);
  if (stride > kMaxChunkBytes / per_chunk) {
    return fail(Status::kInvalidArgument, "fixed pool: a chunk of %zu blocks of %zu bytes exceeds 2^48 bytes",
                per_chunk, stride);
  }
  std::size_t max_chunks = std::min(kMaxChunks, kMaxBlocks / per_chunk);
  if (config.max_blocks != 0) {
    max_chunks = ceil_div(config.max_blocks, per_chunk);
    if (max_chunks > kMaxChunks) {
      return fail(Status::kInvalidArgument,
                  "fixed pool: max blocks %zu needs %zu chunks of %zu blocks, more than the %zu the chunk table "
                  "holds; raise blocks per chunk",
                  config.max_blocks, max_chunks, per_chunk, kMaxChunks);
    }
  }
  std::unique_ptr<FixedPool> pool(new (std::nothrow)
                                      FixedPool(config, stride, per_chunk, max_chunks, std::move(backend)));
  if (pool == nullptr || pool->chunks_ == nullptr) {
    return fail(Status::kInternal, "fixed pool: out of host memory for the chunk table of %zu chunks", max_chunks);
  }
  std::unique_ptr<Snapshot> empty = pool->prepare_snapshot();
  if (empty == nullptr) return fail(Status::kInternal, "fixed pool: out of host memory for the chunk snapshot");
  {
    std::lock_guard growth(pool->growth_);
    pool->publish(std::move(empty));
    const std::size_t initial = std::min(config.initial_blocks, pool->max_blocks_);
    while (pool->reserved_bytes_.load(std::memory_order_relaxed) / stride < initial) {
      if (Status status = pool->grow(); status != Status::kOk) return status;
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
      by_stride_(stride),
      chunk_alignment_(std::max(config.alignment, kMinChunkAlignment)),
      chunk_shift_(floor_log2(blocks_per_chunk)),
      slot_mask_(static_cast<std::uint32_t>(blocks_per_chunk - 1)),
      state_lines_mask_(
          static_cast<std::uint32_t>((blocks_per_chunk >= 64 ? blocks_per_chunk / 64 : blocks_per_chunk) - 1)),
      state_lines_shift_(floor_log2(std::size_t{state_lines_mask_} + 1)),
      max_chunks_(max_chunks),
      max_blocks_(config.max_blocks != 0 ? config.max_blocks : max_chunks * blocks_per_chunk),
      backend_(std::move(backend)),
      chunks_(new (std::nothrow) Chunk[max_chunks]),
      retain_snapshots_(Mode == ThreadSafety::kLockFree || (kConcurrent && config.thread_cache_blocks != 0)) {}

template <ThreadSafety Mode>
FixedPool<Mode>::~FixedPool() {
  for (std::size_t c = 0; c < slots_used_; ++c) {
    if (chunks_[c].base != 0) {
      backend_->deallocate(reinterpret_cast<void*>(chunks_[c].base), chunks_[c].blocks * stride_,
                           chunk_alignment_);
    }
  }
}

// ---- The fast path -------------------------------------------------------
// Its helpers are forced inline: the JAR ships an -O2 build (RelWithDebInfo),
// whose inliner left pop, push and find as calls.

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
  remove_free(1);
  *out = hand_out(index, kAllocated);
  return Status::kOk;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::deallocate(void* ptr, std::size_t* freed_size) noexcept {
  std::lock_guard guard(lock_);
  std::uint32_t index = 0;
  if (Status status = claim(ptr, kFree, &index); status != Status::kOk) [[unlikely]] return status;
  add_free(1);
  push(index, index);
  if (freed_size != nullptr) *freed_size = stride_;
  return Status::kOk;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::allocate_batch(std::size_t size, std::size_t alignment, void** out,
                                       std::size_t count) noexcept {
  if (size - 1 >= block_size_ || alignment > alignment_ || (alignment & (alignment - 1)) != 0) [[unlikely]] {
    return bad_request(size, alignment);
  }
  if (count == 0) return Status::kOk;
  std::lock_guard guard(lock_);
  Chain chain = pop_chain(count);
  if (chain.length != count) [[unlikely]] {
    if (Status status = pop_chain_slow(count, count, &chain); status != Status::kOk) return status;
  }
  remove_free(count);
  for (std::uint32_t i = chain.first; count-- != 0; ++out) {
    const std::uint32_t next = link(i).load(std::memory_order_relaxed);
    *out = hand_out(i, kAllocated);
    i = next;
  }
  return Status::kOk;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed,
                                         std::size_t* freed_bytes) noexcept {
  std::lock_guard guard(lock_);
  // Each block is claimed (its state checked and set free) before it joins
  // the chain, so the chain holds only blocks this call owns.
  Status status = Status::kOk;
  std::uint32_t first = kNil;
  std::uint32_t last = kNil;
  std::size_t done = 0;
  for (; done < count; ++done) {
    std::uint32_t index = 0;
    status = claim(ptrs[done], kFree, &index);
    if (status != Status::kOk) [[unlikely]] break;
    if (last == kNil) {
      last = index;
    } else {
      link(index).store(first, std::memory_order_release);
    }
    first = index;
  }
  if (done != 0) {
    add_free(done);
    push(first, last);
  }
  *freed = done;
  if (freed_bytes != nullptr) *freed_bytes = done * stride_;
  return status;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::take_parked(std::uint32_t* out, std::size_t max, std::size_t* taken) noexcept {
  std::lock_guard guard(lock_);
  Chain chain = pop_chain(max);
  if (chain.length == 0) [[unlikely]] {
    if (Status status = pop_chain_slow(max, 1, &chain); status != Status::kOk) return status;
  }
  remove_free(chain.length);
  std::uint32_t i = chain.first;
  for (std::size_t n = 0; n < chain.length; ++n) {
    const std::uint32_t next = link(i).load(std::memory_order_relaxed);
    const Chunk& chunk = chunks_[i >> chunk_shift_];
    state_of(chunk, i & slot_mask_).store(mark(chunk.generation, kParked), std::memory_order_relaxed);
    out[n] = i;
    i = next;
  }
  *taken = chain.length;
  return Status::kOk;
}

template <ThreadSafety Mode>
void FixedPool<Mode>::release_parked(const std::uint32_t* indices, std::size_t count) noexcept {
  if (count == 0) return;
  for (std::size_t n = 0; n < count; ++n) {
    const std::uint32_t i = indices[n];
    const Chunk& chunk = chunks_[i >> chunk_shift_];
    state_of(chunk, i & slot_mask_).store(mark(chunk.generation, kFree), std::memory_order_relaxed);
    if (n + 1 < count) link(i).store(indices[n + 1], std::memory_order_release);
  }
  std::lock_guard guard(lock_);
  add_free(count);
  push(indices[0], indices[count - 1]);
}

// A parker that reads the snapshot after this returns reads one published
// before (kept: the next publish() sees the flag under the same lock) or
// after it.
template <ThreadSafety Mode>
void FixedPool<Mode>::allow_unlocked_parking() noexcept {
  std::lock_guard growth(growth_);
  retain_snapshots_ = true;
}

template <ThreadSafety Mode>
[[gnu::always_inline]] inline std::uint32_t FixedPool<Mode>::pop() noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      const std::uint32_t index = index_of(head);
      if (index == kNil) return kNil;
      // May read the link of a block another thread just popped (or even
      // of a chunk since trimmed): harmless, the tag has changed and the CAS
      // below fails. This is why links are atomics that outlive their chunk.
      const std::uint32_t next = link(index).load(std::memory_order_acquire);
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

// Detaches a prefix of up to @p max blocks with one CAS. The walk may follow
// links another thread is rewriting; then the tag has moved and the CAS
// fails. Every link ever stored is kNil or the index of a block of a slot
// whose arrays exist (grow() ends its chain with kNil), so even a stale walk
// reads only memory the pool owns.
// Links are stored with release and walked with acquire: a thread that
// reads an index from a stale link then also sees the arrays grow() created
// for that index's slot before any link named it (plain moves on x86; the
// order ThreadSanitizer checks, and weaker CPUs need).
template <ThreadSafety Mode>
auto FixedPool<Mode>::pop_chain(std::size_t max) noexcept -> Chain {
  std::uint64_t head = head_.load(std::memory_order_acquire);
  for (;;) {
    Chain chain{index_of(head), index_of(head), 0};
    if (chain.first == kNil) return Chain{};
    std::uint32_t next = link(chain.first).load(std::memory_order_acquire);
    for (chain.length = 1; chain.length < max && next != kNil; ++chain.length) {
      chain.last = next;
      next = link(next).load(std::memory_order_acquire);
    }
    if constexpr (Mode == ThreadSafety::kLockFree) {
      if (head_.compare_exchange_weak(head, pack(tag_of(head) + 1, next), std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        return chain;
      }
    } else {
      head_.store(next, std::memory_order_relaxed);
      return chain;
    }
  }
}

// Pushes the chain first..last, already linked, in one step.
template <ThreadSafety Mode>
[[gnu::always_inline]] inline void FixedPool<Mode>::push(std::uint32_t first, std::uint32_t last) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    do {
      link(last).store(index_of(head), std::memory_order_release);
    } while (!head_.compare_exchange_weak(head, pack(tag_of(head) + 1, first), std::memory_order_release,
                                          std::memory_order_relaxed));
  } else {
    link(last).store(static_cast<std::uint32_t>(head_.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    head_.store(first, std::memory_order_relaxed);
  }
}

template <ThreadSafety Mode>
std::size_t FixedPool<Mode>::free_blocks() const noexcept {
  if constexpr (kConcurrent) {
    return free_count_.load(std::memory_order_relaxed);
  } else {
    return free_count_;
  }
}

template <ThreadSafety Mode>
[[gnu::always_inline]] inline void FixedPool<Mode>::add_free(std::size_t n) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    free_count_.fetch_add(n, std::memory_order_relaxed);
  } else if constexpr (Mode == ThreadSafety::kMutex) {
    // Writers hold the lock; the atomic is only for lock-free readers.
    free_count_.store(free_count_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  } else {
    free_count_ += n;
  }
}

template <ThreadSafety Mode>
[[gnu::always_inline]] inline void FixedPool<Mode>::remove_free(std::size_t n) noexcept {
  if constexpr (Mode == ThreadSafety::kLockFree) {
    free_count_.fetch_sub(n, std::memory_order_relaxed);
  } else if constexpr (Mode == ThreadSafety::kMutex) {
    free_count_.store(free_count_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
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

// Extends @p chain to @p count blocks, or to at least @p min of them, growing
// the pool as needed. Refused (the chain pushed back) when fewer than @p min
// blocks are free and the pool cannot grow by the rest: a request beyond the
// maximum grows nothing.
template <ThreadSafety Mode>
Status FixedPool<Mode>::pop_chain_slow(std::size_t count, std::size_t min, Chain* chain) noexcept {
  std::lock_guard growth(growth_);
  Status status = Status::kOk;
  while (chain->length < min) {
    Chain more = pop_chain(count - chain->length);
    if (more.length == 0) {
      const std::size_t growable = max_blocks_ - reserved_bytes_.load(std::memory_order_relaxed) / stride_;
      status = min - chain->length > growable ? pool_full() : grow();
      if (status != Status::kOk) break;
      continue;
    }
    if (chain->length == 0) {
      chain->first = more.first;
    } else {
      link(chain->last).store(more.first, std::memory_order_release);
    }
    chain->last = more.last;
    chain->length += more.length;
  }
  if (status != Status::kOk && chain->length != 0) {
    push(chain->first, chain->last);
    *chain = Chain{};
  }
  return status;
}

// Called with growth_ held (and lock_ in kMutex mode).
template <ThreadSafety Mode>
Status FixedPool<Mode>::grow() noexcept {
  std::size_t slot = 0;
  while (slot < slots_used_ && chunks_[slot].base != 0) ++slot;
  if (slot == max_chunks_) return pool_full();
  Chunk& chunk = chunks_[slot];
  const std::size_t per_chunk = std::size_t{slot_mask_} + 1;
  const auto count = static_cast<std::uint32_t>(std::min(per_chunk, max_blocks_ - slot * per_chunk));
  const std::size_t bytes = std::size_t{count} * stride_;
  if (chunk.next == nullptr) {
    chunk.next.reset(new (std::nothrow) std::atomic<std::uint32_t>[per_chunk]);
    chunk.state.reset(new (std::nothrow) std::atomic<std::uint8_t>[std::size_t{state_lines_mask_ + 1} * 64]);
    if (chunk.next == nullptr || chunk.state == nullptr) {
      chunk.next.reset();
      chunk.state.reset();
      return fail(Status::kInternal, "fixed pool: out of host memory for the metadata of a %zu-block chunk",
                  per_chunk);
    }
  }
  // Allocated before the chunk, so that nothing can fail once it exists.
  std::unique_ptr<Snapshot> snapshot = prepare_snapshot();
  if (snapshot == nullptr) return fail(Status::kInternal, "fixed pool: out of host memory for the chunk snapshot");
  void* memory = nullptr;
  if (const Status refused = backend_->allocate(bytes, chunk_alignment_, &memory); refused != Status::kOk) {
    char reason[256];
    std::snprintf(reason, sizeof reason, "%s", error_detail());
    // A plugin that broke its contract is a fault, not a full pool.
    return fail(refused == Status::kPluginFault ? refused : Status::kOutOfPoolMemory,
                "fixed pool of %zu-byte blocks cannot grow: the backend refused %zu bytes (%s); %zu blocks in pool, "
                "max %zu",
                block_size_, bytes, reason,
                static_cast<std::size_t>(reserved_bytes_.load(std::memory_order_relaxed) / stride_), max_blocks_);
  }
  const auto generation = static_cast<std::uint8_t>((chunk.generation + 1) & kGenerationMask);
  const auto first = static_cast<std::uint32_t>(slot << chunk_shift_);
  for (std::uint32_t i = 0; i < count; ++i) {
    state_of(chunk, i).store(mark(generation, kFresh), std::memory_order_relaxed);
    chunk.next[i].store(i + 1 < count ? first + i + 1 : kNil, std::memory_order_release);
  }
  chunk.base = reinterpret_cast<std::uintptr_t>(memory);
  chunk.blocks = count;
  chunk.generation = generation;
  slots_used_ = std::max(slots_used_, slot + 1);
  // free() must find the chunk before any of its blocks is handed out.
  publish(std::move(snapshot));
  const std::uint64_t reserved = reserved_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  peak_reserved_bytes_.store(std::max(reserved, peak_reserved_bytes_.load(std::memory_order_relaxed)),
                             std::memory_order_relaxed);
  regions_.fetch_add(1, std::memory_order_relaxed);
  add_free(count);
  push(first, first + count - 1);
  return Status::kOk;
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::pool_full() const noexcept {
  return fail(Status::kOutOfPoolMemory, "fixed pool of %zu-byte blocks is full: %zu blocks in pool, max %zu",
              block_size_, static_cast<std::size_t>(reserved_bytes_.load(std::memory_order_relaxed) / stride_),
              max_blocks_);
}

// Called with growth_ held. Reserves room for every slot in use plus one
// more, so that publish() cannot fail after the chunk table changed.
template <ThreadSafety Mode>
auto FixedPool<Mode>::prepare_snapshot() noexcept -> std::unique_ptr<Snapshot> try {
  auto snapshot = std::make_unique<Snapshot>();
  snapshot->entries.reserve(slots_used_ + 1);
  snapshots_.reserve(snapshots_.size() + 1);
  return snapshot;
} catch (const std::bad_alloc&) {
  return nullptr;
}

// Called with growth_ held, on a snapshot from prepare_snapshot().
template <ThreadSafety Mode>
void FixedPool<Mode>::publish(std::unique_ptr<Snapshot> snapshot) noexcept {
  for (std::size_t c = 0; c < slots_used_; ++c) {
    const Chunk& chunk = chunks_[c];
    if (chunk.base != 0) {
      snapshot->entries.push_back({chunk.base, chunk.base + chunk.blocks * stride_, static_cast<std::uint32_t>(c),
                                   chunk.generation});
    }
  }
  std::sort(snapshot->entries.begin(), snapshot->entries.end(),
            [](const auto& a, const auto& b) { return a.base < b.base; });
  snapshots_.push_back(std::move(snapshot));
  snapshot_.store(snapshots_.back().get(), std::memory_order_release);
  // Without lock-free readers nobody can still be searching an old one.
  if (!retain_snapshots_) snapshots_.erase(snapshots_.begin(), snapshots_.end() - 1);
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
std::size_t FixedPool<Mode>::trim() noexcept {
  std::lock_guard guard(lock_);
  std::lock_guard growth(growth_);
  // Every allocation happens before the list is detached: past that point a
  // failure would lose free blocks.
  std::vector<std::uint32_t> listed;
  std::vector<std::pair<void*, std::size_t>> released;
  try {
    listed.assign(slots_used_, 0);
    released.reserve(slots_used_);
  } catch (const std::bad_alloc&) {
    return 0;
  }
  std::unique_ptr<Snapshot> snapshot = prepare_snapshot();
  if (snapshot == nullptr) return 0;
  // Count chunk membership on the detached list, not from the state bytes:
  // in kLockFree mode a concurrent free may have marked a block free without
  // having pushed it yet, and its chunk must stay.
  const std::uint32_t detached = detach_all();
  std::uint32_t tail = kNil;
  for (std::uint32_t i = detached; i != kNil; i = link(i).load(std::memory_order_relaxed)) {
    ++listed[i >> chunk_shift_];
    tail = i;
  }
  std::size_t released_blocks = 0;
  for (std::size_t c = 0; c < slots_used_; ++c) {
    Chunk& chunk = chunks_[c];
    if (chunk.base != 0 && listed[c] == chunk.blocks) {
      released.emplace_back(reinterpret_cast<void*>(chunk.base), chunk.blocks * stride_);
      released_blocks += chunk.blocks;
      chunk.base = 0;
    }
  }
  if (released.empty()) {
    if (detached != kNil) push(detached, tail);
    return 0;
  }
  // Give the survivors back first, in their LIFO order, in a single push:
  // allocators find the list empty only for this short while.
  std::uint32_t first = kNil;
  std::uint32_t last = kNil;
  for (std::uint32_t i = detached, next = kNil; i != kNil; i = next) {
    next = link(i).load(std::memory_order_relaxed);
    if (chunks_[i >> chunk_shift_].base == 0) continue;
    if (last == kNil) {
      first = i;
    } else {
      link(last).store(i, std::memory_order_release);
    }
    last = i;
  }
  if (first != kNil) push(first, last);
  // A free that found a released chunk in the older snapshot fails its CAS
  // (no block there is allocated), and bad_free() looks again in this one.
  publish(std::move(snapshot));
  remove_free(released_blocks);
  std::size_t released_bytes = 0;
  for (const auto& [memory, bytes] : released) {
    backend_->deallocate(memory, bytes, chunk_alignment_);
    released_bytes += bytes;
  }
  reserved_bytes_.fetch_sub(released_bytes, std::memory_order_relaxed);
  regions_.fetch_sub(released.size(), std::memory_order_relaxed);
  return released_bytes;
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

// Looks the pointer up again in the current snapshot to say what is wrong
// with it; the fast path only knows that it is.
template <ThreadSafety Mode>
Status FixedPool<Mode>::bad_free(const void* ptr) const noexcept {
  if (ptr == nullptr) return fail(Status::kInvalidFree, "cannot free a null pointer");
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  const auto* entry = find(*snapshot_.load(std::memory_order_acquire), address);
  if (entry == nullptr) {
    return fail(Status::kInvalidFree, "0x%" PRIxPTR " is not a block of this pool", address);
  }
  const std::size_t into = (address - entry->base) % stride_;
  if (into != 0) {
    return fail(Status::kInvalidFree, "0x%" PRIxPTR " points %zu bytes into block 0x%" PRIxPTR " (size %zu)",
                address, into, address - into, block_size_);
  }
  const auto slot = static_cast<std::uint32_t>((address - entry->base) / stride_);
  const std::uint8_t kind = state_of(chunks_[entry->chunk], slot).load(std::memory_order_relaxed) & 3;
  if (kind == kFresh) {
    return fail(Status::kInvalidFree, "0x%" PRIxPTR " was never handed out (a free block of %zu bytes)", address,
                block_size_);
  }
  if (kind == kParked) {
    return fail(Status::kDoubleFree,
                "0x%" PRIxPTR " is already free, parked in a thread cache or BlockCache (block of %zu bytes)", address,
                block_size_);
  }
  return fail(Status::kDoubleFree, "0x%" PRIxPTR " is already free (block of %zu bytes)", address, block_size_);
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
Status FixedPool<Mode>::snapshot(MemorySnapshot* out) const noexcept try {
  // Indexed by kFree, kAllocated, kParked, kFresh (a block never handed out is free).
  static constexpr BlockState kStates[] = {BlockState::kFree, BlockState::kLive, BlockState::kCached,
                                           BlockState::kFree};
  *out = MemorySnapshot{};
  for (;;) {
    // At most a run per block; chunks are counted before the lock and checked under it.
    const std::size_t chunks = regions_.load(std::memory_order_relaxed) + 1;
    out->make_room(chunks, reserved_bytes_.load(std::memory_order_relaxed) / stride_ + chunks);
    std::lock_guard guard(lock_);
    std::lock_guard growth(growth_);
    const auto& entries = snapshot_.load(std::memory_order_acquire)->entries;
    if (!out->has_room(entries.size(), reserved_bytes_.load(std::memory_order_relaxed) / stride_)) continue;
    for (const auto& entry : entries) {
      const Chunk& chunk = chunks_[entry.chunk];
      out->begin_region(entry.base, entry.end - entry.base);
      for (std::uint32_t s = 0; s < chunk.blocks; ++s) {
        const unsigned kind = state_of(chunk, s).load(std::memory_order_relaxed) & 3;
        out->add(SnapshotRun{.offset = std::uint64_t{s} * stride_, .size = stride_, .state = kStates[kind]});
      }
    }
    return Status::kOk;
  }
} catch (const std::bad_alloc&) {
  *out = MemorySnapshot{};
  return fail(Status::kInternal, "fixed pool: out of host memory for the snapshot");
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::validate() const noexcept {
  return check(nullptr);
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::validate_parked(std::size_t parked) const noexcept {
  return check(&parked);
}

template <ThreadSafety Mode>
Status FixedPool<Mode>::check(const std::size_t* parked) const noexcept {
  std::lock_guard guard(lock_);
  std::lock_guard growth(growth_);
  std::size_t live_chunks = 0;
  std::size_t live_blocks = 0;
  std::size_t free_states = 0;
  std::size_t parked_states = 0;
  for (std::size_t c = 0; c < slots_used_; ++c) {
    const Chunk& chunk = chunks_[c];
    if (chunk.base == 0) continue;
    ++live_chunks;
    live_blocks += chunk.blocks;
    for (std::uint32_t s = 0; s < chunk.blocks; ++s) {
      const std::uint8_t state = state_of(chunk, s).load(std::memory_order_relaxed);
      if ((state >> 2) != chunk.generation) {
        return fail(Status::kCorrupted, "fixed pool: block %u of chunk %zu has state %u, not of generation %u", s,
                    c, state, chunk.generation);
      }
      free_states += state == mark(chunk.generation, kFree) || state == mark(chunk.generation, kFresh) ? 1 : 0;
      parked_states += state == mark(chunk.generation, kParked) ? 1 : 0;
    }
  }
  // A list longer than the pool has blocks must revisit one: a cycle.
  std::size_t listed = 0;
  for (std::uint32_t i = index_of(head_.load(std::memory_order_acquire)); i != kNil;
       i = link(i).load(std::memory_order_relaxed)) {
    const std::size_t c = i >> chunk_shift_;
    if (c >= slots_used_ || chunks_[c].base == 0 || (i & slot_mask_) >= chunks_[c].blocks) {
      return fail(Status::kCorrupted, "fixed pool: free list holds index %u outside every live chunk", i);
    }
    const std::uint8_t state = state_of(chunks_[c], i & slot_mask_).load(std::memory_order_relaxed);
    if (state != mark(chunks_[c].generation, kFree) && state != mark(chunks_[c].generation, kFresh)) {
      return fail(Status::kCorrupted, "fixed pool: allocated or parked block %u is on the free list", i);
    }
    if (++listed > live_blocks) {
      return fail(Status::kCorrupted, "fixed pool: free list loops (more than the %zu blocks in the pool)",
                  live_blocks);
    }
  }
  if (listed != free_states || listed != free_blocks()) {
    return fail(Status::kCorrupted, "fixed pool: %zu blocks listed free, %zu marked free, %zu counted free", listed,
                free_states, free_blocks());
  }
  if (parked != nullptr && parked_states != *parked) {
    return fail(Status::kCorrupted, "fixed pool: %zu blocks marked parked, %zu held by thread caches", parked_states,
                *parked);
  }
  const Snapshot& snapshot = *snapshot_.load(std::memory_order_acquire);
  if (snapshot.entries.size() != live_chunks) {
    return fail(Status::kCorrupted, "fixed pool: chunk snapshot has %zu entries for %zu live chunks",
                snapshot.entries.size(), live_chunks);
  }
  for (std::size_t e = 0; e < snapshot.entries.size(); ++e) {
    const auto& entry = snapshot.entries[e];
    const Chunk* chunk = entry.chunk < slots_used_ ? &chunks_[entry.chunk] : nullptr;
    if (chunk == nullptr || entry.base != chunk->base || entry.end != chunk->base + chunk->blocks * stride_ ||
        entry.generation != chunk->generation) {
      return fail(Status::kCorrupted, "fixed pool: snapshot entry %zu does not match chunk %u", e, entry.chunk);
    }
    if (e > 0 && snapshot.entries[e - 1].end > entry.base) {
      return fail(Status::kCorrupted, "fixed pool: snapshot entries %zu and %zu are unsorted or overlap", e - 1, e);
    }
  }
  const Reservation reserved = reservation();
  if (reserved.bytes != std::uint64_t{live_blocks} * stride_ || reserved.regions != live_chunks ||
      reserved.peak_bytes < reserved.bytes) {
    return fail(Status::kCorrupted,
                "fixed pool: reservation says %" PRIu64 " bytes (peak %" PRIu64 ") in %" PRIu64
                " chunks, chunks hold %zu blocks in %zu",
                reserved.bytes, reserved.peak_bytes, reserved.regions, live_blocks, live_chunks);
  }
  return Status::kOk;
}

template class FixedPool<ThreadSafety::kNone>;
template class FixedPool<ThreadSafety::kMutex>;
template class FixedPool<ThreadSafety::kLockFree>;

}  // namespace nativepool
