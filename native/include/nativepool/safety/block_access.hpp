// SPDX-License-Identifier: Apache-2.0
/// @file block_access.hpp
/// @brief BlockAccess: how the safety layers write and check the guard and
/// poison bytes of pool memory, whether the CPU can address it or not.
///
/// Host memory is written and scanned in place, opened to Valgrind and ASan
/// only for that moment. Device memory goes through the backend's
/// MemoryAccess: guards and poison are set with a device fill and checked by
/// copying them back to the host, so the canary logic is written once.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>

#include "nativepool/backend.hpp"
#include "nativepool/safety/memory_hooks.hpp"
#include "nativepool/status.hpp"

namespace nativepool {

namespace detail {

/// Offset of the first byte in [p, p + n) that differs from @p byte, or @p n.
[[nodiscard]] std::size_t first_mismatch(const unsigned char* p, std::size_t n, unsigned char byte) noexcept;

}  // namespace detail

/// Cheap to copy. Host accesses are inline and cannot fail; device accesses
/// cost one synchronous copy each (or a few, for long ranges) and return the
/// runtime's status.
class BlockAccess {
 public:
  /// Host memory.
  BlockAccess() noexcept = default;
  /// Through @p device, or host memory when it is null (Backend::memory_access()).
  explicit BlockAccess(std::shared_ptr<MemoryAccess> device) noexcept : device_(std::move(device)) {}

  /// True for memory the CPU addresses directly (the only memory the tools watch).
  [[nodiscard]] bool host() const noexcept { return device_ == nullptr; }

  /// Sets [p, p + n) to @p byte and leaves it inaccessible to the tools.
  [[nodiscard]] Status fill(unsigned char* p, unsigned char byte, std::size_t n) const noexcept {
    if (!host()) [[unlikely]] return device_->fill(p, byte, n);
    hooks::full_access(p, n);
    std::memset(p, byte, n);
    hooks::no_access(p, n);
    return Status::kOk;
  }

  /// Stores in @p offset the offset of the first byte of [p, p + n) that is
  /// not @p byte, or @p n when all are.
  [[nodiscard]] Status find_mismatch(const unsigned char* p, std::size_t n, unsigned char byte,
                                     std::size_t* offset) const noexcept {
    if (!host()) [[unlikely]] return device_mismatch(p, n, byte, offset);
    hooks::full_access(p, n);
    *offset = detail::first_mismatch(p, n, byte);
    hooks::no_access(p, n);
    return Status::kOk;
  }

  /// Makes [p, p + n) inaccessible to the tools (which watch host memory only).
  void hide(const void* p, std::size_t n) const noexcept {
    if (host()) hooks::no_access(p, n);
  }

  /// Hands [p, p + n) back to the tools' default view before it leaves the pool.
  void release(const void* p, std::size_t n) const noexcept {
    if (host()) hooks::release(p, n);
  }

 private:
  Status device_mismatch(const unsigned char* p, std::size_t n, unsigned char byte,
                         std::size_t* offset) const noexcept;

  std::shared_ptr<MemoryAccess> device_;
};

}  // namespace nativepool
