// SPDX-License-Identifier: Apache-2.0
#include "nativepool/gpu/stream_ordered_pool.hpp"

#include <new>
#include <unordered_set>
#include <utility>

#include "nativepool/math.hpp"

namespace nativepool::gpu {

StreamOrderedPool::StreamOrderedPool(std::shared_ptr<DeviceRuntime> runtime, int device,
                                     std::unique_ptr<Pool> upstream, std::size_t granularity) noexcept
    : runtime_(std::move(runtime)),
      device_(device),
      upstream_(std::move(upstream)),
      granularity_(granularity),
      checks_guards_(upstream_->info().safety != SafetyLevel::kOff) {}

StreamOrderedPool::~StreamOrderedPool() {
  flush_all();
  for (auto& [stream, list] : lists_) runtime_->event_destroy(list.event);
}

Status StreamOrderedPool::check_stream(Stream stream) const noexcept {
  if (stream == kNoStream) return Status::kOk;
  const int stream_device = runtime_->stream_device(stream);
  if (device_ < 0 || stream_device == device_) [[likely]] return Status::kOk;
  return fail(Status::kInvalidArgument, "wrong device: a stream of device %d used with the pool of device %d",
              stream_device, device_);
}

// A cached block serves requests up to twice smaller: beyond that, the pool
// would waste more than it saves by not splitting.
bool StreamOrderedPool::take(FreeList& list, std::size_t size, void** out) noexcept {
  const auto found = list.blocks.lower_bound(size);
  if (found == list.blocks.end() || found->first / 2 > size) return false;
  *out = found->second;
  cached_blocks_ -= 1;
  cached_bytes_ -= found->first;
  live_.at(found->second) = found->first;
  list.blocks.erase(found);
  return true;
}

Status StreamOrderedPool::take_from_other_streams(std::size_t size, Stream stream, void** out) noexcept {
  FreeList* pending = nullptr;
  for (auto& [other, list] : lists_) {
    if (other == stream || list.blocks.empty()) continue;
    bool idle = false;
    if (const Status status = runtime_->event_query(list.event, &idle); status != Status::kOk) return status;
    if (idle) {
      if (take(list, size, out)) {
        reused_after_event_ += 1;
        return Status::kOk;
      }
    } else if (pending == nullptr) {
      pending = &list;
    }
  }
  // No idle candidate: order this stream after the other one's free on the
  // device, rather than making the host wait. Without a stream there is
  // nothing to order, so only idle blocks qualify.
  if (pending != nullptr && stream != kNoStream) {
    void* block = nullptr;
    if (take(*pending, size, &block)) {
      if (const Status status = runtime_->stream_wait_event(stream, pending->event); status != Status::kOk) {
        std::size_t& block_size = live_.at(block);
        pending->blocks.emplace(block_size, block);
        cached_blocks_ += 1;
        cached_bytes_ += block_size;
        block_size = 0;
        return status;
      }
      reused_after_wait_ += 1;
      *out = block;
      return Status::kOk;
    }
  }
  *out = nullptr;
  return Status::kOk;
}

Status StreamOrderedPool::allocate(std::size_t size, Stream stream, void** out) noexcept {
  std::size_t rounded = 0;
  if (size == 0 || !round_up_checked(size, granularity_, &rounded)) {
    return fail(Status::kInvalidArgument, "cannot allocate %zu bytes", size);
  }
  if (const Status status = check_stream(stream); status != Status::kOk) return status;
  std::lock_guard lock(mutex_);
  try {
    void* block = nullptr;
    if (const auto own = lists_.find(stream); own != lists_.end() && take(own->second, rounded, &block)) {
      reused_same_stream_ += 1;
    } else if (const Status status = take_from_other_streams(rounded, stream, &block); status != Status::kOk) {
      return status;
    }
    if (block == nullptr) {
      // The upstream gets the size asked for, not the rounded one: it rounds
      // to the same granularity, and so its canaries guard the bytes between
      // the two and its messages quote what the caller asked.
      Status status = upstream_->allocate(size, granularity_, &block);
      if (status == Status::kOutOfPoolMemory || status == Status::kDeviceError) {
        // Cached blocks may be what is missing: give them back and retry.
        flush_all();
        status = upstream_->allocate(size, granularity_, &block);
      }
      if (status != Status::kOk) return status;
      upstream_allocations_ += 1;
      live_.emplace(block, rounded);
    }
    bytes_in_use_ += live_.at(block);
    *out = block;
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "stream-ordered pool: out of host memory for bookkeeping");
  }
}

Status StreamOrderedPool::deallocate(void* ptr, Stream stream) noexcept {
  if (stream == kNoStream) return deallocate(ptr);
  if (const Status status = check_stream(stream); status != Status::kOk) return status;
  if (checks_guards_) return deallocate_checked(ptr, stream);
  std::lock_guard lock(mutex_);
  const auto found = live_.find(ptr);
  if (found == live_.end() || found->second == 0) {
    const bool cached = found != live_.end();
    return fail(cached ? Status::kDoubleFree : Status::kInvalidFree,
                cached ? "block %p is already free" : "%p is not a block of this pool", ptr);
  }
  try {
    auto [entry, created] = lists_.try_emplace(stream);
    FreeList& list = entry->second;
    if (created) {
      if (const Status status = runtime_->event_create(runtime_->stream_device(stream), &list.event);
          status != Status::kOk) {
        lists_.erase(entry);
        return status;
      }
    }
    if (const Status status = runtime_->event_record(list.event, stream); status != Status::kOk) return status;
    list.blocks.emplace(found->second, ptr);
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "stream-ordered pool: out of host memory for bookkeeping");
  }
  bytes_in_use_ -= found->second;
  cached_blocks_ += 1;
  cached_bytes_ += found->second;
  found->second = 0;  // cached: still the pool's, no longer the caller's
  return Status::kOk;
}

Status StreamOrderedPool::deallocate(void* ptr) noexcept {
  std::lock_guard lock(mutex_);
  const auto found = live_.find(ptr);
  if (found == live_.end() || found->second == 0) {
    const bool cached = found != live_.end();
    return fail(cached ? Status::kDoubleFree : Status::kInvalidFree,
                cached ? "block %p is already free" : "%p is not a block of this pool", ptr);
  }
  // A block the pool refuses (a canary pool that found its guards damaged)
  // stays the caller's, as it does in the pool beneath.
  const Status status = upstream_->deallocate(ptr);
  if (status != Status::kOk) return status;
  bytes_in_use_ -= found->second;
  live_.erase(found);
  return Status::kOk;
}

// Cached, a block would go back to the pool beneath, and have its guards
// checked, only when a flush gives it back, long after the free and with
// nobody to tell. And the work enqueued before the free may still be writing
// the block and its guards. So a pool that checks guards waits for that work
// and frees at once: the damage is reported by the free that found it, as on
// the host. Debug levels give up stream-ordered reuse here, as they give up
// speed everywhere else.
bool StreamOrderedPool::holds(const void* ptr, std::size_t size) const noexcept {
  std::lock_guard lock(mutex_);
  // A free block's entry stays with size 0 while it is cached.
  const auto found = live_.find(const_cast<void*>(ptr));
  return found != live_.end() && found->second != 0 && size <= found->second;
}

Status StreamOrderedPool::deallocate_checked(void* ptr, Stream stream) noexcept {
  if (const Status status = runtime_->stream_synchronize(stream); status != Status::kOk) return status;
  return deallocate(ptr);
}

void StreamOrderedPool::flush(FreeList& list) noexcept {
  if (list.blocks.empty()) return;
  (void)runtime_->event_synchronize(list.event);
  for (const auto& [size, block] : list.blocks) {
    live_.erase(block);
    (void)upstream_->deallocate(block);
    cached_blocks_ -= 1;
    cached_bytes_ -= size;
  }
  list.blocks.clear();
}

void StreamOrderedPool::flush_all() noexcept {
  for (auto& [stream, list] : lists_) flush(list);
}

void StreamOrderedPool::release_stream(Stream stream) noexcept {
  std::lock_guard lock(mutex_);
  const auto found = lists_.find(stream);
  if (found == lists_.end()) return;
  flush(found->second);
  runtime_->event_destroy(found->second.event);
  lists_.erase(found);
}

std::size_t StreamOrderedPool::trim() noexcept {
  std::lock_guard lock(mutex_);
  flush_all();
  return upstream_->trim();
}

Status StreamOrderedPool::verify() const noexcept {
  std::lock_guard lock(mutex_);
  return upstream_->verify();
}

Status StreamOrderedPool::snapshot(MemorySnapshot* out) const noexcept try {
  std::lock_guard lock(mutex_);
  if (const Status status = upstream_->snapshot(out); status != Status::kOk) return status;
  std::unordered_set<std::uintptr_t> cached;
  for (const auto& [stream, list] : lists_) {
    for (const auto& [size, block] : list.blocks) cached.insert(reinterpret_cast<std::uintptr_t>(block));
  }
  out->refine_live([&](std::uintptr_t address, SnapshotRun block, MemorySnapshot* into) {
    if (cached.contains(address)) block.state = BlockState::kCached;
    into->add(block);
  });
  return Status::kOk;
} catch (const std::bad_alloc&) {
  *out = MemorySnapshot{};
  return fail(Status::kInternal, "stream-ordered pool: out of host memory for the snapshot");
}

StreamOrderedStats StreamOrderedPool::stats() const noexcept {
  std::lock_guard lock(mutex_);
  StreamOrderedStats stats;
  stats.live_blocks = live_.size() - cached_blocks_;
  stats.bytes_in_use = bytes_in_use_;
  stats.cached_blocks = cached_blocks_;
  stats.cached_bytes = cached_bytes_;
  stats.reused_same_stream = reused_same_stream_;
  stats.reused_after_event = reused_after_event_;
  stats.reused_after_wait = reused_after_wait_;
  stats.upstream_allocations = upstream_allocations_;
  stats.upstream = upstream_->stats();
  return stats;
}

}  // namespace nativepool::gpu
