// SPDX-License-Identifier: Apache-2.0
#include "nativepool/sharded_variable_pool.hpp"

#include <algorithm>
#include <cinttypes>
#include <new>
#include <thread>
#include <utility>

namespace nativepool {

// Each shard maps through one of these: regions come 64 KiB-aligned, so
// that each directory entry belongs to one region, and every entry a region
// covers names its shard from before the region is handed out until after
// it is given back. The totals are the shards' sum, kept here so that the
// peak of the sum is exact.
class ShardedVariablePool::OwnerBackend final : public BackendAdaptor {
 public:
  OwnerBackend(std::shared_ptr<Backend> inner, detail::SlabDirectory<OwnerBackend>* owners, Totals* totals) noexcept
      : BackendAdaptor(std::move(inner)), owners_(owners), totals_(totals) {}

  // Set once, before the pool is handed out; read-only from then on.
  void bind(Shard* shard) noexcept { shard_ = shard; }
  [[nodiscard]] Shard* shard() const noexcept { return shard_; }

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    const std::size_t align = std::max<std::size_t>(alignment, kOwnerGranule);
    if (Status status = inner().allocate(size, align, out); status != Status::kOk) return status;
    const auto base = reinterpret_cast<std::uintptr_t>(*out);
    for (std::uintptr_t at = base; at < base + size; at += kOwnerGranule) {
      if (!owners_->insert(at, this)) {
        for (std::uintptr_t back = base; back < at; back += kOwnerGranule) owners_->erase(back);
        inner().deallocate(*out, size, align);
        *out = nullptr;
        return fail(Status::kInternal, "sharded variable pool: out of host memory for the owner directory");
      }
    }
    totals_->peak.raise_to(totals_->bytes.add(size));
    totals_->regions.add(1);
    return Status::kOk;
  }

  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override {
    const auto base = reinterpret_cast<std::uintptr_t>(region);
    for (std::uintptr_t at = base; at < base + size; at += kOwnerGranule) owners_->erase(at);
    totals_->bytes.sub(size);
    totals_->regions.sub(1);
    inner().deallocate(region, size, std::max<std::size_t>(alignment, kOwnerGranule));
  }

 private:
  detail::SlabDirectory<OwnerBackend>* owners_;
  Totals* totals_;
  Shard* shard_ = nullptr;
};

Status ShardedVariablePool::create(const VariablePoolConfig& config, std::size_t shards,
                                   std::shared_ptr<Backend> backend,
                                   std::unique_ptr<ShardedVariablePool>* out) noexcept {
  if (out == nullptr || backend == nullptr) {
    return fail(Status::kInvalidArgument, "sharded variable pool: a null backend or out");
  }
  if (config.max_bytes != 0) {
    return fail(Status::kInvalidArgument, "sharded variable pool: max_bytes %zu cannot be split over shards",
                config.max_bytes);
  }
  if (shards > kMaxShards) {
    return fail(Status::kInvalidArgument, "sharded variable pool: %zu shards is more than %zu", shards, kMaxShards);
  }
  if (shards == 0) shards = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, kMaxShards);
  std::unique_ptr<ShardedVariablePool> pool(new (std::nothrow) ShardedVariablePool);
  if (pool != nullptr) {
    pool->shards_.reset(new (std::nothrow) std::unique_ptr<Shard>[shards]);
    pool->threads_.reset(new (std::nothrow) std::atomic<std::uint32_t>[shards]{});
  }
  if (pool == nullptr || pool->shards_ == nullptr || pool->threads_ == nullptr) {
    return fail(Status::kInternal, "sharded variable pool: out of host memory for the pool");
  }
  for (std::size_t i = 0; i < shards; ++i) {
    auto owned = std::shared_ptr<OwnerBackend>(new (std::nothrow) OwnerBackend(backend, &pool->owners_, &pool->totals_));
    if (owned == nullptr) return fail(Status::kInternal, "sharded variable pool: out of host memory for the pool");
    VariablePoolConfig shard_config = config;
    if (i != 0) shard_config.initial_bytes = 0;
    std::unique_ptr<Shard> shard;
    if (Status status = Shard::create(shard_config, owned, &shard); status != Status::kOk) return status;
    owned->bind(shard.get());
    pool->shards_[i] = std::move(shard);
    ++pool->count_;
  }
  pool->first_ = pool->shards_[0].get();
  *out = std::move(pool);
  return Status::kOk;
}

ShardedVariablePool::~ShardedVariablePool() = default;

ShardedVariablePool::Shard* ShardedVariablePool::owner_at(std::uintptr_t address) const noexcept {
  const OwnerBackend* through = owners_.find(address & ~(kOwnerGranule - 1));
  return through != nullptr ? through->shard() : nullptr;
}

// Two threads starting at once may both pick one shard: a small imbalance
// that the next arrivals correct, where a lock would serialise every start.
ShardedVariablePool::Shard& ShardedVariablePool::acquire_home() noexcept {
  std::size_t best = 0;
  std::uint32_t fewest = threads_[0].load(std::memory_order_relaxed);
  for (std::size_t i = 1; i < count_ && fewest != 0; ++i) {
    const std::uint32_t here = threads_[i].load(std::memory_order_relaxed);
    if (here < fewest) {
      best = i;
      fewest = here;
    }
  }
  threads_[best].fetch_add(1, std::memory_order_relaxed);
  return *shards_[best];
}

void ShardedVariablePool::release_home(const Shard& home) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    if (shards_[i].get() == &home) {
      threads_[i].fetch_sub(1, std::memory_order_relaxed);
      return;
    }
  }
}

bool ShardedVariablePool::park_elsewhere(Shard& home, const void* ptr, std::uint64_t* handle, std::size_t* cls,
                                         Shard** judged) noexcept {
  Shard* by = owner(ptr);
  if (by != nullptr && by != &home && by->park(ptr, handle, cls)) return true;
  *judged = by != nullptr ? by : first_;
  return false;
}

void ShardedVariablePool::release_parked(const std::uint64_t* handles, std::size_t count) noexcept {
  for (std::size_t begin = 0; begin < count;) {
    Shard* by = owner_at(Shard::parked_slab(handles[begin]));
    std::size_t end = begin + 1;
    while (end < count && owner_at(Shard::parked_slab(handles[end])) == by) ++end;
    by->release_parked(handles + begin, end - begin);  // a parked block's slab is always some shard's
    begin = end;
  }
}

std::size_t ShardedVariablePool::trim() noexcept {
  std::size_t released = 0;
  for (std::size_t i = 0; i < count_; ++i) released += shards_[i]->trim();
  return released;
}

Fragmentation ShardedVariablePool::fragmentation() const noexcept {
  Fragmentation all;
  for (std::size_t i = 0; i < count_; ++i) {
    const Fragmentation one = shards_[i]->fragmentation();
    all.free_bytes += one.free_bytes;
    all.free_blocks += one.free_blocks;
    all.largest_free_block = std::max(all.largest_free_block, one.largest_free_block);
  }
  if (all.free_bytes != 0) {
    all.external_fragmentation =
        1.0 - static_cast<double>(all.largest_free_block) / static_cast<double>(all.free_bytes);
  }
  return all;
}

Reservation ShardedVariablePool::reservation() const noexcept {
  Reservation all;
  all.bytes = totals_.bytes.get();
  all.peak_bytes = std::max(totals_.peak.get(), all.bytes);
  all.regions = totals_.regions.get();
  return all;
}

Status ShardedVariablePool::validate() const noexcept {
  std::uint64_t bytes = 0;
  std::uint64_t regions = 0;
  std::size_t entries = 0;
  MemorySnapshot regions_of;
  for (std::size_t i = 0; i < count_; ++i) {
    if (Status status = shards_[i]->validate(); status != Status::kOk) return status;
    const Reservation own = shards_[i]->reservation();
    bytes += own.bytes;
    regions += own.regions;
    if (Status status = shards_[i]->snapshot(&regions_of); status != Status::kOk) return status;
    for (const SnapshotRegion& region : regions_of.regions) {
      for (std::uintptr_t at = region.base; at < region.base + region.size; at += kOwnerGranule, ++entries) {
        if (owner_at(at) != shards_[i].get()) {
          return fail(Status::kCorrupted, "shard %zu holds 0x%" PRIxPTR ", which the owner directory does not name",
                      i, at);
        }
      }
    }
  }
  const Reservation counted = reservation();
  if (counted.bytes != bytes || counted.regions != regions || entries != owners_.size()) {
    return fail(Status::kCorrupted,
                "the shards hold %" PRIu64 " bytes in %" PRIu64 " regions (%zu directory entries), counted %" PRIu64
                " bytes in %" PRIu64 " regions (%zu entries)",
                bytes, regions, entries, counted.bytes, counted.regions, owners_.size());
  }
  return Status::kOk;
}

Status ShardedVariablePool::validate_parked(std::size_t parked) const noexcept {
  if (Status status = validate(); status != Status::kOk) return status;
  std::size_t claimed = 0;
  for (std::size_t i = 0; i < count_; ++i) claimed += shards_[i]->parked_blocks();
  if (claimed != parked) {
    return fail(Status::kCorrupted, "%zu slab blocks are claimed as parked, the thread caches hold %zu", claimed,
                parked);
  }
  return Status::kOk;
}

Status ShardedVariablePool::snapshot(MemorySnapshot* out) const noexcept try {
  *out = MemorySnapshot{};
  for (std::size_t i = 0; i < count_; ++i) {
    MemorySnapshot one;
    if (Status status = shards_[i]->snapshot(&one); status != Status::kOk) return status;
    out->append(std::move(one));
  }
  out->sort_regions();
  return Status::kOk;
} catch (const std::bad_alloc&) {
  *out = MemorySnapshot{};
  return fail(Status::kInternal, "sharded variable pool: out of host memory for the snapshot");
}

}  // namespace nativepool
