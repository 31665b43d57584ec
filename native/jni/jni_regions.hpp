// SPDX-License-Identifier: Apache-2.0
/// @file jni_regions.hpp
/// @brief The host memory a pool reserved, as PoolNative.wrap checks it: a
/// view is only made over bytes the pool's backends handed out and have not
/// taken back, so no address a caller makes up becomes a ByteBuffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "jni_handles.hpp"
#include "nativepool/backend.hpp"
#include "nativepool/pool.hpp"

namespace nativepool::jni {

/// The regions of one pool (of all its nodes' backends, for a node-local
/// pool). Regions come and go with growth and trim, both rare, so a mutex
/// and an ordered map are cheap enough; wrap() is one lookup.
class RegionSet {
 public:
  /// True when [@p p, @p p + @p n) lies in one recorded region.
  [[nodiscard]] bool contains(const void* p, std::size_t n) const noexcept;

  /// Records @p region; false when out of host memory.
  [[nodiscard]] bool add(const void* region, std::size_t size) noexcept;
  void remove(const void* region) noexcept;

 private:
  mutable std::mutex mutex_;
  std::map<std::uintptr_t, std::size_t> regions_;  // first byte -> size
};

/// A backend that records in a RegionSet the regions of host-accessible
/// memory it hands out (device memory is never recorded: no view of it).
class RecordingBackend final : public BackendAdaptor {
 public:
  RecordingBackend(std::shared_ptr<Backend> inner, std::shared_ptr<RegionSet> regions) noexcept
      : BackendAdaptor(std::move(inner)), regions_(std::move(regions)) {}

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override;
  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override;

 private:
  std::shared_ptr<RegionSet> regions_;
};

/// What a pool token names: the pool, and the regions its views may cover.
struct PoolEntry {
  std::unique_ptr<Pool> pool;
  std::shared_ptr<RegionSet> regions;
  /// Its backend calls Java when a region is mapped and cannot wait (a budget
  /// charge, which may refuse the region): no growth of it may happen inside
  /// a JNI critical region. Region listeners and events wait (NoJavaScope).
  bool calls_java = false;
};

/// The pool @p token names, or null with an exception pending.
inline Pool* find_pool(JNIEnv* env, jlong token) noexcept {
  auto* entry = find<PoolEntry>(env, token, HandleKind::kPool);
  return entry == nullptr ? nullptr : entry->pool.get();
}

}  // namespace nativepool::jni
