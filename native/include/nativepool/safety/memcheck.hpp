// SPDX-License-Identifier: Apache-2.0
/// @file memcheck.hpp
/// @brief WithMemcheck: describes each block handed out and freed to
/// Valgrind memcheck and AddressSanitizer (memory_hooks.hpp).
///
/// With it, memcheck reports a read or write of a freed block at the faulty
/// instruction, and, over a canary pool whose margins stay inaccessible, a
/// write past a block before it reaches the neighbouring block. The factory
/// adds it only while a tool is watching (hooks::active()), so ordinary runs
/// keep the unwrapped pool.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

#include "nativepool/safety/memory_hooks.hpp"
#include "nativepool/adaptor.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// Wraps a PoolAlgorithm whose backend is a hiding GuardedBackend.
template <PoolAlgorithm Inner>
class WithMemcheck : public AdaptorBase<Inner> {
  using Base = AdaptorBase<Inner>;
  using Base::inner_;

 public:
  using Base::kConcurrent;

  explicit WithMemcheck(std::unique_ptr<Inner> inner) noexcept : Base(std::move(inner)) {
    hooks::create_pool(this);
  }
  ~WithMemcheck() { hooks::destroy_pool(this); }
  WithMemcheck(const WithMemcheck&) = delete;
  WithMemcheck& operator=(const WithMemcheck&) = delete;

  // The lock spans the inner call and the hook: otherwise a block freed on
  // one thread could be handed out on another and opened by its hook before
  // the first thread's hook closes it again.
  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
    std::lock_guard guard(lock_);
    const Status status = inner_->allocate(size, alignment, out);
    if (status == Status::kOk) hooks::block_allocated(this, *out, size);
    return status;
  }

  Status deallocate(void* ptr, std::size_t* freed_size) noexcept {
    std::lock_guard guard(lock_);
    std::size_t freed = 0;
    const Status status = inner_->deallocate(ptr, &freed);
    if (status == Status::kOk) hooks::block_freed(this, ptr, freed);
    if (freed_size != nullptr) *freed_size = freed;
    return status;
  }


 private:
  std::conditional_t<kConcurrent, std::mutex, NoLock> lock_;
};

}  // namespace nativepool
