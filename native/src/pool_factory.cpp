// SPDX-License-Identifier: Apache-2.0
#include "nativepool/pool_factory.hpp"

#include <cstdint>
#include <new>
#include <utility>

#include "nativepool/safety/safety_stack.hpp"
#include "nativepool/thread_cache.hpp"
#include "nativepool/variable_thread_cache.hpp"

namespace nativepool {
namespace {

PoolInfo describe(const char* algorithm, ThreadSafety mode, const Backend& backend, std::size_t block_size,
                  std::size_t alignment) {
  PoolInfo info;
  info.algorithm = algorithm;
  info.thread_safety = mode;
  info.kind = backend.kind();
  info.device = backend.device();
  info.backend = std::string(backend.name());
  info.block_size = block_size;
  info.alignment = alignment;
  return info;
}

// The safety layers change the backend and, for canaries, make every block
// hold its guard margins too; the pool still reports the caller's block size.
template <ThreadSafety Mode>
Status build_fixed(const FixedPoolConfig& config, const SafetyPlan& plan, std::shared_ptr<Backend> backend,
                   std::unique_ptr<Pool>* out) noexcept try {
  FixedPoolConfig guarded = config;
  const std::size_t overhead = plan.block_overhead(config.alignment);
  if (config.block_size > SIZE_MAX / 2 || overhead > SIZE_MAX / 2) {
    return fail(Status::kInvalidArgument, "fixed pool: block size %zu is too large", config.block_size);
  }
  if (config.block_size != 0) guarded.block_size += overhead;  // 0 stays 0: the algorithm refuses it
  const std::size_t cache = config.thread_cache_blocks;
  if (cache != 0 && (cache < 2 || cache > kMaxThreadCacheBlocks)) {
    return fail(Status::kInvalidArgument, "fixed pool: a thread cache of %zu blocks is outside [2, %zu] (0: none)",
                cache, kMaxThreadCacheBlocks);
  }
  // Thread caches front shared pools whose every block any thread may take
  // (blocks parked by one thread cannot serve another, so a pool with a
  // maximum has none), and only the bare algorithm: the safety layers must
  // see each allocation and free.
  const bool cached = Mode != ThreadSafety::kNone && plan.bare() && config.max_blocks == 0 && cache != 0;
  if (!cached) guarded.thread_cache_blocks = 0;
  std::shared_ptr<Backend> pool_backend = plan.backend(backend);
  if (pool_backend == nullptr) return fail(Status::kInternal, "out of host memory for pool metadata");
  std::unique_ptr<FixedPool<Mode>> algorithm;
  if (Status status = FixedPool<Mode>::create(guarded, std::move(pool_backend), &algorithm);
      status != Status::kOk) {
    return status;
  }
  const std::size_t alignment = algorithm->alignment();
  PoolInfo info = describe("fixed", Mode, *backend, config.block_size, alignment);
  if constexpr (Mode != ThreadSafety::kNone) {
    if (cached) {
      info.safety = plan.level();
      return ThreadCachedPool<Mode>::create(std::move(algorithm), cache, std::move(info), out,
                                            config.thread_cache_free_check);
    }
  }
  return plan.build(std::move(algorithm), alignment, std::move(info), out);
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for pool metadata");
}

template <ThreadSafety Mode>
Status build_variable(const VariablePoolConfig& config, const SafetyPlan& plan, std::shared_ptr<Backend> backend,
                      std::unique_ptr<Pool>* out) noexcept try {
  const std::size_t cache = config.thread_cache_blocks;
  if (cache != 0 && (cache < 2 || cache > kMaxThreadCacheBlocks)) {
    return fail(Status::kInvalidArgument,
                "variable pool: a thread cache of %zu blocks is outside [2, %zu] (0: none)", cache,
                kMaxThreadCacheBlocks);
  }
  // As for fixed pools: caches front shared pools without a maximum, and
  // only the bare algorithm; a pool without size classes (slabs off) has
  // nothing to cache.
  VariablePoolConfig algorithm_config = config;
  const bool cached = Mode == ThreadSafety::kMutex && plan.bare() && config.max_bytes == 0 && cache != 0 &&
                      VariablePool<Mode>::has_classes(config);
  if (!cached) algorithm_config.thread_cache_blocks = 0;
  std::shared_ptr<Backend> pool_backend = plan.backend(backend);
  if (pool_backend == nullptr) return fail(Status::kInternal, "out of host memory for pool metadata");
  if constexpr (Mode == ThreadSafety::kMutex) {
    if (cached) {
      std::unique_ptr<ShardedVariablePool> sharded;
      if (Status status = ShardedVariablePool::create(algorithm_config, config.shards, std::move(pool_backend), &sharded);
          status != Status::kOk) {
        return status;
      }
      PoolInfo info = describe("variable", Mode, *backend, 0, sharded->granularity());
      info.safety = plan.level();
      return ThreadCachedVariablePool::create(std::move(sharded), cache, std::move(info), out);
    }
  }
  std::unique_ptr<VariablePool<Mode>> algorithm;
  if (Status status = VariablePool<Mode>::create(algorithm_config, std::move(pool_backend), &algorithm);
      status != Status::kOk) {
    return status;
  }
  const std::size_t granularity = algorithm->granularity();
  PoolInfo info = describe("variable", Mode, *backend, 0, granularity);
  return plan.build(std::move(algorithm), granularity, std::move(info), out);
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for pool metadata");
}

}  // namespace

Status make_fixed_pool(const FixedPoolConfig& config, ThreadSafety mode, std::shared_ptr<Backend> backend,
                       std::unique_ptr<Pool>* out, SafetyLevel safety) noexcept {
  if (!backend) return fail(Status::kInvalidArgument, "a pool needs a backend");
  SafetyPlan plan;
  if (Status status = SafetyPlan::make(safety, *backend, &plan); status != Status::kOk) return status;
  switch (mode) {
    case ThreadSafety::kNone: return build_fixed<ThreadSafety::kNone>(config, plan, std::move(backend), out);
    case ThreadSafety::kMutex: return build_fixed<ThreadSafety::kMutex>(config, plan, std::move(backend), out);
    case ThreadSafety::kLockFree:
      return build_fixed<ThreadSafety::kLockFree>(config, plan, std::move(backend), out);
  }
  return fail(Status::kInvalidArgument, "unknown thread-safety mode %d", static_cast<int>(mode));
}

Status make_variable_pool(const VariablePoolConfig& config, ThreadSafety mode, std::shared_ptr<Backend> backend,
                          std::unique_ptr<Pool>* out, SafetyLevel safety) noexcept {
  if (!backend) return fail(Status::kInvalidArgument, "a pool needs a backend");
  SafetyPlan plan;
  if (Status status = SafetyPlan::make(safety, *backend, &plan); status != Status::kOk) return status;
  switch (mode) {
    case ThreadSafety::kNone: return build_variable<ThreadSafety::kNone>(config, plan, std::move(backend), out);
    case ThreadSafety::kMutex: return build_variable<ThreadSafety::kMutex>(config, plan, std::move(backend), out);
    case ThreadSafety::kLockFree:
      return fail(Status::kInvalidArgument,
                  "variable pools support thread safety NONE and MUTEX; LOCK_FREE needs a fixed pool");
  }
  return fail(Status::kInvalidArgument, "unknown thread-safety mode %d", static_cast<int>(mode));
}

}  // namespace nativepool
