// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.GpuNative: device managers, streams,
// events, stream-ordered allocation and copies. The Java handles hold each
// manager, stream and event between acquire() and release(), so a handle
// reaching this file always points to a live object.
#include <jni.h>

#include <cstdint>
#include <iterator>
#include <memory>
#include <string>

#include "jni_errors.hpp"
#include "jni_registration.hpp"
#include "nativepool/gpu/copy.hpp"
#include "nativepool/gpu/device_manager.hpp"
#include "nativepool/gpu/runtimes.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_GpuNative.h"
#endif

namespace {

using nativepool::MemoryKind;
using nativepool::Status;
using nativepool::gpu::DeviceManager;
using nativepool::gpu::Event;
using nativepool::gpu::Stream;
using nativepool::gpu::StreamOrderedPool;
using nativepool::jni::check_array;
using nativepool::jni::throw_status;
using nativepool::jni::to_size;

// Pseudo devices of the pool-addressed calls, and the length of a stats
// array: declared once, in GpuNative, and checked here against the javac -h
// header whenever the glue is built from it.
constexpr jint kPinned = -1;
constexpr jint kAggregate = -2;
constexpr jint kDeviceStatsFields = 15;
#ifdef NATIVEPOOL_HAVE_JAVAH
static_assert(kPinned == org_nativepool_internal_GpuNative_PINNED);
static_assert(kAggregate == org_nativepool_internal_GpuNative_AGGREGATE);
static_assert(kDeviceStatsFields == org_nativepool_internal_GpuNative_DEVICE_STATS_FIELDS);
#endif

DeviceManager* as_manager(jlong handle) noexcept { return reinterpret_cast<DeviceManager*>(handle); }
Stream as_stream(jlong handle) noexcept { return static_cast<Stream>(static_cast<std::uintptr_t>(handle)); }
Event as_event(jlong handle) noexcept { return static_cast<Event>(static_cast<std::uintptr_t>(handle)); }

bool ok(JNIEnv* env, Status status) noexcept {
  if (status == Status::kOk) [[likely]] return true;
  throw_status(env, status, nullptr, 0);
  return false;
}

/// The pool a device number names: kPinned for the pinned host pool.
StreamOrderedPool* pool_of(JNIEnv* env, DeviceManager* manager, jint device) noexcept {
  if (device == kPinned) return &manager->pinned_pool();
  StreamOrderedPool* pool = nullptr;
  return ok(env, manager->device_pool(device, &pool)) ? pool : nullptr;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_createManager(
    JNIEnv* env, jclass, jboolean simulated, jint simulated_devices, jlong simulated_capacity, jlong arena_size,
    jlong max_bytes_per_device, jlong pinned_arena_size, jlong pinned_max_bytes, jint safety) {
  nativepool::gpu::DeviceManagerConfig config;
  config.safety = static_cast<nativepool::SafetyLevel>(safety);
  std::size_t capacity = 0;
  if (!to_size(env, simulated_capacity, "capacity", &capacity) ||
      !to_size(env, arena_size, "arena size", &config.arena_size) ||
      !to_size(env, max_bytes_per_device, "max bytes per device", &config.max_bytes_per_device) ||
      !to_size(env, pinned_arena_size, "pinned arena size", &config.pinned_arena_size) ||
      !to_size(env, pinned_max_bytes, "pinned max bytes", &config.pinned_max_bytes)) {
    return 0;
  }
  std::shared_ptr<nativepool::gpu::DeviceRuntime> runtime;
  const Status status = simulated != JNI_FALSE
                            ? nativepool::gpu::make_simulated_runtime(simulated_devices, capacity, &runtime)
                            : nativepool::gpu::cuda_runtime(&runtime);
  if (!ok(env, status)) return 0;
  std::unique_ptr<DeviceManager> manager;
  if (!ok(env, DeviceManager::create(std::move(runtime), config, &manager))) return 0;
  return reinterpret_cast<jlong>(manager.release());
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_destroyManager(JNIEnv*, jclass, jlong manager) {
  delete as_manager(manager);
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_GpuNative_deviceCount(JNIEnv*, jclass, jlong manager) {
  return as_manager(manager)->device_count();
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_GpuNative_runtimeName(JNIEnv* env, jclass, jlong manager) {
  const std::string name(as_manager(manager)->runtime().name());
  return env->NewStringUTF(name.c_str());
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_GpuNative_selectDevice(JNIEnv* env, jclass, jlong manager,
                                                                           jint policy, jint requested) {
  int device = -1;
  ok(env, as_manager(manager)->select_device(static_cast<nativepool::gpu::SelectionPolicy>(policy), requested,
                                             &device));
  return device;
}

JNIEXPORT jboolean JNICALL Java_org_nativepool_internal_GpuNative_peerAccess(JNIEnv*, jclass, jlong manager,
                                                                             jint device, jint peer) {
  return as_manager(manager)->peer_access(device, peer) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_createStream(JNIEnv* env, jclass, jlong manager,
                                                                            jint device) {
  Stream stream{};
  if (!ok(env, as_manager(manager)->create_stream(device, &stream))) return 0;
  return static_cast<jlong>(stream);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_destroyStream(JNIEnv*, jclass, jlong manager,
                                                                            jlong stream) {
  as_manager(manager)->destroy_stream(as_stream(stream));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_synchronizeStream(JNIEnv* env, jclass, jlong manager,
                                                                                jlong stream) {
  ok(env, as_manager(manager)->runtime().stream_synchronize(as_stream(stream)));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_createEvent(JNIEnv* env, jclass, jlong manager,
                                                                           jint device) {
  Event event{};
  if (!ok(env, as_manager(manager)->create_event(device, &event))) return 0;
  return static_cast<jlong>(event);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_destroyEvent(JNIEnv*, jclass, jlong manager,
                                                                           jlong event) {
  as_manager(manager)->destroy_event(as_event(event));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_recordEvent(JNIEnv* env, jclass, jlong manager,
                                                                          jlong event, jlong stream) {
  ok(env, as_manager(manager)->runtime().event_record(as_event(event), as_stream(stream)));
}

JNIEXPORT jboolean JNICALL Java_org_nativepool_internal_GpuNative_queryEvent(JNIEnv* env, jclass, jlong manager,
                                                                             jlong event) {
  bool complete = false;
  ok(env, as_manager(manager)->runtime().event_query(as_event(event), &complete));
  return complete ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_synchronizeEvent(JNIEnv* env, jclass, jlong manager,
                                                                               jlong event) {
  ok(env, as_manager(manager)->runtime().event_synchronize(as_event(event)));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_waitEvent(JNIEnv* env, jclass, jlong manager,
                                                                        jlong stream, jlong event) {
  ok(env, as_manager(manager)->runtime().stream_wait_event(as_stream(stream), as_event(event)));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_allocate(JNIEnv* env, jclass, jlong manager,
                                                                        jint device, jlong size, jlong stream) {
  std::size_t bytes = 0;
  if (!to_size(env, size, "size", &bytes)) return 0;
  StreamOrderedPool* pool = pool_of(env, as_manager(manager), device);
  if (pool == nullptr) return 0;
  void* block = nullptr;
  const Status status = pool->allocate(bytes, as_stream(stream), &block);
  if (status != Status::kOk) [[unlikely]] {
    throw_status(env, status, pool->stats().upstream.fragmentation, bytes);
    return 0;
  }
  return reinterpret_cast<jlong>(block);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_free(JNIEnv* env, jclass, jlong manager, jint device,
                                                                   jlong address, jlong stream) {
  StreamOrderedPool* pool = pool_of(env, as_manager(manager), device);
  if (pool != nullptr) ok(env, pool->deallocate(reinterpret_cast<void*>(address), as_stream(stream)));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_trim(JNIEnv* env, jclass, jlong manager, jint device) {
  StreamOrderedPool* pool = pool_of(env, as_manager(manager), device);
  return pool == nullptr ? 0 : static_cast<jlong>(pool->trim());
}

JNIEXPORT jobjectArray JNICALL Java_org_nativepool_internal_GpuNative_snapshot(JNIEnv* env, jclass, jlong manager,
                                                                              jint device) {
  StreamOrderedPool* pool = pool_of(env, as_manager(manager), device);
  nativepool::MemorySnapshot snapshot;
  if (pool == nullptr || !ok(env, pool->snapshot(&snapshot))) return nullptr;
  return nativepool::jni::snapshot_to_java(env, snapshot);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_copy(JNIEnv* env, jclass, jlong manager, jlongArray dst,
                                                                   jlongArray src, jlong bytes, jlong stream,
                                                                   jboolean wait) {
  // Each side: {address, size, memory kind, device, offset}.
  jlong d[5];
  jlong s[5];
  if (!check_array(env, dst, 5, "destination descriptor") || !check_array(env, src, 5, "source descriptor")) return;
  env->GetLongArrayRegion(dst, 0, 5, d);
  env->GetLongArrayRegion(src, 0, 5, s);
  std::size_t count = 0;
  std::size_t dst_offset = 0;
  std::size_t src_offset = 0;
  if (!to_size(env, bytes, "byte count", &count) || !to_size(env, d[4], "destination offset", &dst_offset) ||
      !to_size(env, s[4], "source offset", &src_offset)) {
    return;
  }
  const auto range = [](const jlong* side) {
    return nativepool::gpu::MemoryRange{reinterpret_cast<void*>(side[0]), static_cast<std::size_t>(side[1]),
                                        static_cast<MemoryKind>(side[2]), static_cast<int>(side[3])};
  };
  auto& runtime = as_manager(manager)->runtime();
  const auto copy = wait ? &nativepool::gpu::copy : &nativepool::gpu::copy_async;
  ok(env, copy(runtime, range(d), dst_offset, range(s), src_offset, count, as_stream(stream)));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_stats(JNIEnv* env, jclass, jlong manager, jint device,
                                                                    jlongArray out) {
  if (!check_array(env, out, kDeviceStatsFields, "device stats array")) return;
  DeviceManager* m = as_manager(manager);
  nativepool::gpu::DeviceStats stats;
  if (device == kPinned) {
    stats.pool = m->pinned_pool().stats();
  } else if (!ok(env, device == kAggregate ? m->aggregate_stats(&stats) : m->device_stats(device, &stats))) {
    return;
  }
  const nativepool::gpu::StreamOrderedStats& p = stats.pool;
  // Order of org.nativepool.gpu.DeviceStats' field indices.
  const jlong fields[] = {
      static_cast<jlong>(stats.memory.free_bytes),
      static_cast<jlong>(stats.memory.total_bytes),
      static_cast<jlong>(p.live_blocks),
      static_cast<jlong>(p.bytes_in_use),
      static_cast<jlong>(p.cached_blocks),
      static_cast<jlong>(p.cached_bytes),
      static_cast<jlong>(p.reused_same_stream),
      static_cast<jlong>(p.reused_after_event),
      static_cast<jlong>(p.reused_after_wait),
      static_cast<jlong>(p.upstream_allocations),
      static_cast<jlong>(p.upstream.reserved.bytes),
      static_cast<jlong>(p.upstream.reserved.peak_bytes),
      static_cast<jlong>(p.upstream.fragmentation.free_bytes),
      static_cast<jlong>(p.upstream.fragmentation.largest_free_block),
      static_cast<jlong>(p.upstream.fragmentation.free_blocks),
  };
  static_assert(static_cast<jint>(std::size(fields)) == kDeviceStatsFields, "DeviceStats field order");
  env->SetLongArrayRegion(out, 0, static_cast<jsize>(std::size(fields)), fields);
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_directAddress(JNIEnv* env, jclass, jobject buffer) {
  return reinterpret_cast<jlong>(env->GetDirectBufferAddress(buffer));
}

}  // extern "C"

namespace nativepool::jni {

bool register_gpu_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, createManager, "(ZIJJJJJI)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, destroyManager, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, deviceCount, "(J)I"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, runtimeName, "(J)Ljava/lang/String;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, selectDevice, "(JII)I"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, peerAccess, "(JII)Z"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, createStream, "(JI)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, destroyStream, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, synchronizeStream, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, createEvent, "(JI)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, destroyEvent, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, recordEvent, "(JJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, queryEvent, "(JJ)Z"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, synchronizeEvent, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, waitEvent, "(JJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, allocate, "(JIJJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, free, "(JIJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, trim, "(JI)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, snapshot, "(JI)[Ljava/lang/Object;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, copy, "(J[J[JJJZ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, stats, "(JI[J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, directAddress, "(Ljava/nio/ByteBuffer;)J"),
  };
  return register_natives(env, "org/nativepool/internal/GpuNative", methods);
}

}  // namespace nativepool::jni
