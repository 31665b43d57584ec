// SPDX-License-Identifier: Apache-2.0
#include "nativepool/pool_factory.hpp"

#include <new>
#include <utility>

#include "nativepool/erased_pool.hpp"

namespace nativepool {
namespace {

PoolInfo describe(const char* algorithm, ThreadSafety mode, const Backend& backend,
                  std::size_t block_size, std::size_t alignment) {
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

// new(std::nothrow) does not cover the std::string copies in PoolInfo, so
// metadata exhaustion is caught here and reported as a status instead.
template <class A>
Status erase(std::unique_ptr<A> algorithm, PoolInfo info, std::unique_ptr<Pool>* out) noexcept {
  auto* pool = new (std::nothrow) ErasedPool<A>(std::move(algorithm), std::move(info));
  if (pool == nullptr) return fail(Status::kInternal, "out of host memory for pool metadata");
  out->reset(pool);
  return Status::kOk;
}

template <ThreadSafety Mode>
Status build_fixed(const FixedPoolConfig& config, std::shared_ptr<Backend> backend,
                   std::unique_ptr<Pool>* out) noexcept try {
  std::unique_ptr<FixedPool<Mode>> algorithm;
  if (Status status = FixedPool<Mode>::create(config, std::move(backend), &algorithm); status != Status::kOk) {
    return status;
  }
  PoolInfo info = describe("fixed", Mode, algorithm->backend(), algorithm->block_size(), algorithm->alignment());
  return erase(std::move(algorithm), std::move(info), out);
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for pool metadata");
}

template <ThreadSafety Mode>
Status build_variable(const VariablePoolConfig& config, std::shared_ptr<Backend> backend,
                      std::unique_ptr<Pool>* out) noexcept try {
  std::unique_ptr<VariablePool<Mode>> algorithm;
  if (Status status = VariablePool<Mode>::create(config, std::move(backend), &algorithm); status != Status::kOk) {
    return status;
  }
  PoolInfo info = describe("variable", Mode, algorithm->backend(), 0, algorithm->granularity());
  return erase(std::move(algorithm), std::move(info), out);
} catch (const std::bad_alloc&) {
  return fail(Status::kInternal, "out of host memory for pool metadata");
}

}  // namespace

Status make_fixed_pool(const FixedPoolConfig& config, ThreadSafety mode, std::shared_ptr<Backend> backend,
                       std::unique_ptr<Pool>* out) noexcept {
  if (!backend) return fail(Status::kInvalidArgument, "a pool needs a backend");
  switch (mode) {
    case ThreadSafety::kNone: return build_fixed<ThreadSafety::kNone>(config, std::move(backend), out);
    case ThreadSafety::kMutex: return build_fixed<ThreadSafety::kMutex>(config, std::move(backend), out);
    case ThreadSafety::kLockFree: return build_fixed<ThreadSafety::kLockFree>(config, std::move(backend), out);
  }
  return fail(Status::kInvalidArgument, "unknown thread-safety mode %d", static_cast<int>(mode));
}

Status make_variable_pool(const VariablePoolConfig& config, ThreadSafety mode, std::shared_ptr<Backend> backend,
                          std::unique_ptr<Pool>* out) noexcept {
  if (!backend) return fail(Status::kInvalidArgument, "a pool needs a backend");
  switch (mode) {
    case ThreadSafety::kNone: return build_variable<ThreadSafety::kNone>(config, std::move(backend), out);
    case ThreadSafety::kMutex: return build_variable<ThreadSafety::kMutex>(config, std::move(backend), out);
    case ThreadSafety::kLockFree:
      return fail(Status::kInvalidArgument,
                  "variable pools support thread safety NONE and MUTEX; LOCK_FREE needs a fixed pool");
  }
  return fail(Status::kInvalidArgument, "unknown thread-safety mode %d", static_cast<int>(mode));
}

}  // namespace nativepool
