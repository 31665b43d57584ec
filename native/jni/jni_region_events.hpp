// SPDX-License-Identifier: Apache-2.0
/// @file jni_region_events.hpp
/// @brief Region events in Java: the listeners through which the native core
/// tells Java code that a pool mapped or unmapped a region. Two kinds: a
/// user's org.nativepool.RegionListener (Backend.withRegionListener), and
/// the pool's own org.nativepool.RegionEvents, which commits the Flight
/// Recorder events RegionMapped and RegionUnmapped. Only growth, trim and
/// close map or unmap regions, so allocate and free never pass here.
#pragma once

#include <jni.h>

#include <cstddef>
#include <memory>

#include "nativepool/backend.hpp"
#include "nativepool/region_listener.hpp"

namespace nativepool::jni {

/// A region listener that calls Java, on the thread that maps or unmaps the
/// region: a Java thread inside a pool call, or a native thread, attached as
/// a daemon. A thread that holds a critical array (NoJavaScope) must not run
/// Java: its calls wait until the scope ends. What the Java code throws is
/// printed and dropped, since the pool call that reported the region goes on.
class JavaRegionCalls : public RegionListener {
 public:
  explicit JavaRegionCalls(JavaVM* vm) noexcept : vm_(vm) {}

  void mapped(void* region, std::size_t size) noexcept final { report(true, region, size); }
  void unmapped(void* region, std::size_t size) noexcept final { report(false, region, size); }

  /// Calls Java now: @p env is the calling thread's, with no exception pending.
  virtual void call(JNIEnv* env, bool mapped, void* region, std::size_t size) const noexcept = 0;

 protected:
  /// The calling thread's JNIEnv, attaching it as a daemon if it is native; null if that fails.
  [[nodiscard]] JNIEnv* env() const noexcept;

 private:
  friend class NoJavaScope;  // delivers what it queued
  void report(bool mapped, void* region, std::size_t size) const noexcept;

  JavaVM* vm_;
};

/// Held by a JNI call while it holds a critical array (GetPrimitiveArrayCritical),
/// in which no Java code may run: the region events of that time are queued
/// and delivered when the scope ends, after the array is released. Declare it
/// before taking the array, and end it after releasing it.
class NoJavaScope {
 public:
  NoJavaScope() noexcept;
  ~NoJavaScope();
  NoJavaScope(const NoJavaScope&) = delete;
  NoJavaScope& operator=(const NoJavaScope&) = delete;
};

/// Wraps @p backend so that the regions it maps and unmaps reach @p sink, the
/// org.nativepool.RegionEvents of the pool being built, with the backend's
/// name, memory kind and node or device. A null sink leaves the backend as it
/// is (the internal callers that build a pool without events). Out of memory
/// is kInternal, with no exception pending.
[[nodiscard]] Status report_regions(JNIEnv* env, jobject sink, std::shared_ptr<Backend>* backend) noexcept;

}  // namespace nativepool::jni
