// SPDX-License-Identifier: Apache-2.0
/// @file allocators.hpp
/// @brief The allocators the native benchmarks compare, behind one shape:
/// `void* allocate(size)` / `void deallocate(ptr)`.
///
/// jemalloc and mimalloc are not linked in: they replace malloc for the whole
/// process, so the benchmarks run once per allocator with LD_PRELOAD (see
/// bench/scripts/run_native.sh) and Malloc reports which one it measured.
#pragma once

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "nativepool/block_cache.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/status.hpp"

namespace bench {

/// Whatever malloc/free the process resolved: glibc, or a preloaded one.
struct Malloc {
  static void* allocate(std::size_t size) noexcept { return std::malloc(size); }
  static void deallocate(void* ptr) noexcept { std::free(ptr); }

  /// "glibc", "jemalloc" or "mimalloc", from the symbols only they export.
  static std::string name() {
    if (dlsym(RTLD_DEFAULT, "mallocx") != nullptr) return "jemalloc";
    if (dlsym(RTLD_DEFAULT, "mi_malloc") != nullptr) return "mimalloc";
    return "glibc";
  }
};

/// A nativepool algorithm used directly (no type erasure, no statistics):
/// the cost of the algorithm itself.
template <class Algorithm>
class Direct {
 public:
  explicit Direct(std::unique_ptr<Algorithm> pool) : pool_(std::move(pool)) {}

  void* allocate(std::size_t size) noexcept {
    void* out = nullptr;
    return pool_->allocate(size, 0, &out) == nativepool::Status::kOk ? out : nullptr;
  }
  void deallocate(void* ptr) noexcept { (void)pool_->deallocate(ptr, nullptr); }
  Algorithm& algorithm() noexcept { return *pool_; }

 private:
  std::unique_ptr<Algorithm> pool_;
};

/// A pool as the JNI layer sees it: type-erased (one virtual call) and
/// counted (WithStatistics), built by the pool factory.
class Erased {
 public:
  explicit Erased(std::unique_ptr<nativepool::Pool> pool) : pool_(std::move(pool)) {}

  void* allocate(std::size_t size) noexcept {
    void* out = nullptr;
    return pool_->allocate(size, 0, &out) == nativepool::Status::kOk ? out : nullptr;
  }
  void deallocate(void* ptr) noexcept { (void)pool_->deallocate(ptr); }
  nativepool::Pool& pool() noexcept { return *pool_; }

 private:
  std::unique_ptr<nativepool::Pool> pool_;
};

/// One thread's BlockCache over a shared pool.
class Cached {
 public:
  explicit Cached(nativepool::BlockCache& cache) noexcept : cache_(cache) {}

  void* allocate(std::size_t /*size: the pool's block size*/) noexcept {
    void* out = nullptr;
    return cache_.allocate(&out) == nativepool::Status::kOk ? out : nullptr;
  }
  void deallocate(void* ptr) noexcept { (void)cache_.deallocate(ptr); }

 private:
  nativepool::BlockCache& cache_;
};

/// Builds Algorithm<Mode> from @p config over anonymous mappings, or throws.
template <class Algorithm, class Config>
Direct<Algorithm> make_direct(const Config& config) {
  std::unique_ptr<Algorithm> pool;
  if (Algorithm::create(config, std::make_shared<nativepool::MmapBackend>(), &pool) != nativepool::Status::kOk) {
    throw std::runtime_error(nativepool::error_detail());
  }
  return Direct<Algorithm>(std::move(pool));
}

}  // namespace bench
