// SPDX-License-Identifier: Apache-2.0
/// @file backend.hpp
/// @brief The upstream resource a pool reserves large regions from.
///
/// A backend hands out big, rarely requested regions (chunks and arenas);
/// pools carve them into blocks. Pools never touch the memory they manage, so
/// a backend may return memory the CPU cannot dereference (device memory):
/// the same pool algorithms then serve it unchanged.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "nativepool/status.hpp"

namespace nativepool {

/// Where a backend's memory lives. Values are mirrored by
/// org.nativepool.MemoryKind: append only.
enum class MemoryKind : int {
  kHost = 0,        ///< pageable host memory
  kNumaHost = 1,    ///< host memory bound to one NUMA node
  kPinnedHost = 2,  ///< page-locked host memory, DMA-able by a GPU
  kDevice = 3,      ///< GPU memory, not CPU-addressable
  kPersistent = 4,  ///< a mapped persistent-memory or DAX file
};

/// Stable name of a memory kind, e.g. "HOST".
[[nodiscard]] const char* memory_kind_name(MemoryKind kind) noexcept;

/// Reads and writes memory the CPU cannot address, for the few layers that
/// must touch block bytes (canaries). Both calls return once the copy is
/// complete; the caller guarantees no queued device work uses the range.
class MemoryAccess {
 public:
  virtual ~MemoryAccess() = default;
  /// Sets [@p dst, @p dst + @p bytes) to @p value.
  [[nodiscard]] virtual Status fill(void* dst, unsigned char value, std::size_t bytes) noexcept = 0;
  /// Copies [@p src, @p src + @p bytes) to host memory at @p dst.
  [[nodiscard]] virtual Status read(void* dst, const void* src, std::size_t bytes) noexcept = 0;
};

/// Upstream memory resource. Implementations must be thread-safe: several
/// pools may share one backend, and a pool may grow from any thread.
class Backend {
 public:
  virtual ~Backend() = default;

  /// Reserves @p size bytes aligned to @p alignment (a power of two).
  /// On success stores the region in @p out. On failure returns a status and
  /// records a detail message; @p out is left untouched.
  [[nodiscard]] virtual Status allocate(std::size_t size, std::size_t alignment,
                                        void** out) noexcept = 0;

  /// Returns a region obtained from allocate() with the same size/alignment.
  virtual void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept = 0;

  /// Gives the whole pages inside [@p start, @p start + @p size), part of a
  /// region from allocate() that holds nothing now, back to the system while
  /// the region stays reserved: a pool's trim() calls it on its free space,
  /// so that resident memory follows the live set. The bytes read as zero
  /// when next touched. Returns the bytes released: 0, the default, where
  /// memory cannot be released so (pinned, device, file-backed, a plugin's).
  virtual std::size_t release_pages(void* start, std::size_t size) noexcept {
    (void)start;
    (void)size;
    return 0;
  }

  [[nodiscard]] virtual MemoryKind kind() const noexcept = 0;

  /// Device ordinal for device memory, NUMA node for NUMA memory, else -1.
  [[nodiscard]] virtual int device() const noexcept { return -1; }

  /// Short human-readable name, e.g. "malloc", "mmap+thp", "cuda:0".
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  /// True when the CPU may read and write the memory directly.
  [[nodiscard]] bool host_accessible() const noexcept { return kind() != MemoryKind::kDevice; }

  /// How the safety layers reach memory that is not host_accessible();
  /// nullptr for memory the CPU reads directly, and for device memory
  /// without such a path (canaries are then unavailable).
  [[nodiscard]] virtual std::shared_ptr<MemoryAccess> memory_access() const noexcept { return nullptr; }
};

/// Base of the backends that wrap another (decorators): forwards what they
/// leave alone, so each says only what it adds to allocate() and deallocate().
class BackendAdaptor : public Backend {
 public:
  explicit BackendAdaptor(std::shared_ptr<Backend> inner) noexcept : inner_(std::move(inner)) {}

  [[nodiscard]] MemoryKind kind() const noexcept override { return inner_->kind(); }
  [[nodiscard]] int device() const noexcept override { return inner_->device(); }
  [[nodiscard]] std::string_view name() const noexcept override { return inner_->name(); }
  [[nodiscard]] std::shared_ptr<MemoryAccess> memory_access() const noexcept override {
    return inner_->memory_access();
  }
  std::size_t release_pages(void* start, std::size_t size) noexcept override {
    return inner_->release_pages(start, size);
  }

 protected:
  /// The wrapped backend.
  [[nodiscard]] Backend& inner() const noexcept { return *inner_; }

 private:
  std::shared_ptr<Backend> inner_;
};

}  // namespace nativepool
