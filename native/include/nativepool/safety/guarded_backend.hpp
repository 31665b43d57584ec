// SPDX-License-Identifier: Apache-2.0
/// @file guarded_backend.hpp
/// @brief A backend decorator that prepares every new region for the safety
/// layers: poisoned for canaries, inaccessible for memcheck and ASan.
#pragma once

#include <memory>
#include <utility>

#include "nativepool/backend.hpp"
#include "nativepool/safety/block_access.hpp"

namespace nativepool {

/// The byte freed memory is filled with (Vulkan Memory Allocator's
/// "destroyed" fill). Canary pools expect it in every byte that is not part
/// of a live block, so new regions start out filled with it.
inline constexpr unsigned char kPoisonByte = 0xEF;

/// Wraps a backend. Every new region of host memory is made inaccessible to
/// memcheck and ASan until the pool hands parts of it out (free outside those
/// tools), and accessible again before it goes back to the inner backend;
/// with @p poison it is also filled with kPoisonByte (on the device, for
/// device memory).
class GuardedBackend final : public BackendAdaptor {
 public:
  GuardedBackend(std::shared_ptr<Backend> inner, bool poison) noexcept
      : BackendAdaptor(std::move(inner)), access_(memory_access()), poison_(poison) {}

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    const Status status = inner().allocate(size, alignment, out);
    if (status != Status::kOk) return status;
    auto* region = static_cast<unsigned char*>(*out);
    if (!poison_) {
      access_.hide(region, size);
      return status;
    }
    if (const Status filled = access_.fill(region, kPoisonByte, size); filled != Status::kOk) [[unlikely]] {
      inner().deallocate(region, size, alignment);
      return filled;
    }
    return status;
  }

  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override {
    access_.release(region, size);
    inner().deallocate(region, size, alignment);
  }

  /// Nothing with poison: released pages would read as zero, and the canary
  /// checks would take the lost poison of free memory for corruption.
  std::size_t release_pages(void* start, std::size_t size) noexcept override {
    return poison_ ? 0 : inner().release_pages(start, size);
  }

 private:
  BlockAccess access_;
  bool poison_;
};

}  // namespace nativepool
