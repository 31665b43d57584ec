// SPDX-License-Identifier: Apache-2.0
/// @file persistent_media.hpp
/// @brief How stores to a mapped file become durable: user-space cache
/// flushes on a DAX mapping (MAP_SYNC), msync elsewhere.
///
/// A persistent heap orders its writes with two calls: flush() names a range
/// whose stores must reach the media, drain() waits until every range named
/// since the last drain has. Nothing written after a drain() can become
/// durable before what was flushed before it, which is all the logs need.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nativepool {

/// The durability mechanism a persistent heap uses.
enum class Durability : std::uint8_t {
  /// Cache flushes (CLWB, else CLFLUSHOPT, else CLFLUSH, by CPUID) and an
  /// sfence on a MAP_SYNC mapping: only on a DAX file system, where the
  /// mapping is the media and no page cache sits in between.
  kCacheFlush = 0,
  /// msync(MS_SYNC) of the pages a range touches: any file system. The
  /// kernel writes the dirty pages back before msync returns.
  kMsync = 1,
};

/// "cache-flush" or "msync".
[[nodiscard]] const char* durability_name(Durability durability) noexcept;

/// The cache-flush instruction this CPU offers: "clwb", "clflushopt",
/// "clflush", or "" where there is none (not x86-64).
[[nodiscard]] const char* cache_flush_instruction() noexcept;

/// Sees every flush and drain a heap issues, after the heap has issued it.
/// Tests use it to build the images a power loss could leave
/// (persistent_crash_test.cpp); it changes nothing about durability.
class PersistObserver {
 public:
  virtual ~PersistObserver() = default;
  /// [@p offset, @p offset + @p length) of the file was flushed.
  virtual void flushed(std::uint64_t offset, std::uint64_t length) noexcept = 0;
  /// A persist point: everything flushed so far is durable now.
  virtual void drained() noexcept = 0;
};

namespace detail {

/// The mapping of one heap file and the way its stores are made durable.
class PersistentMedia {
 public:
  PersistentMedia(unsigned char* base, std::size_t size, Durability durability, PersistObserver* observer) noexcept;

  /// Names [@p offset, @p offset + @p length) as to be made durable. In msync
  /// mode the pages are written back at once; with cache flushes, each line.
  void flush(std::uint64_t offset, std::uint64_t length) noexcept;
  /// Waits until everything flushed is durable (sfence; nothing for msync,
  /// which has waited already).
  void drain() noexcept;
  /// flush() and drain().
  void persist(std::uint64_t offset, std::uint64_t length) noexcept {
    flush(offset, length);
    drain();
  }
  /// The heap mapped its file anew (a grow): flushes go through @p base.
  void remap(unsigned char* base, std::size_t size) noexcept {
    base_ = base;
    size_ = size;
  }

  /// Whether the last msync failed (an I/O error, cleared by the call).
  [[nodiscard]] int take_error() noexcept {
    const int error = error_;
    error_ = 0;
    return error;
  }
  [[nodiscard]] Durability durability() const noexcept { return durability_; }
  [[nodiscard]] std::uint64_t flushed_bytes() const noexcept { return flushed_bytes_; }
  [[nodiscard]] std::uint64_t drains() const noexcept { return drains_; }

 private:
  unsigned char* base_;
  std::size_t size_;
  Durability durability_;
  PersistObserver* observer_;
  void (*flush_line_)(const void*) noexcept;
  int error_ = 0;
  std::uint64_t flushed_bytes_ = 0;
  std::uint64_t drains_ = 0;
};

}  // namespace detail
}  // namespace nativepool
