// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.GpuNative: device managers, streams,
// events, stream-ordered allocation and copies. Managers, streams and events
// travel as tokens of the handle table (jni_handles.hpp); a stream's or an
// event's token belongs to its manager's, so one manager's stream is refused
// by another.
#include <jni.h>

#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <string>

#include "jni_errors.hpp"
#include "jni_handles.hpp"
#include "jni_region_events.hpp"
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
using nativepool::jni::HandleKind;
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

DeviceManager* find_manager(JNIEnv* env, jlong handle) noexcept {
  return nativepool::jni::find<DeviceManager>(env, handle, HandleKind::kManager);
}

// A stream's or an event's runtime handle, stored in its slot as a pointer.
template <class Handle>
bool find_runtime_handle(JNIEnv* env, jlong manager, jlong token, HandleKind kind, Handle* out) noexcept {
  void* object = nullptr;
  if (!nativepool::jni::find_owned(env, token, kind, manager, &object)) return false;
  *out = static_cast<Handle>(reinterpret_cast<std::uintptr_t>(object));
  return true;
}

bool find_stream(JNIEnv* env, jlong manager, jlong token, Stream* out) noexcept {
  return find_runtime_handle(env, manager, token, HandleKind::kStream, out);
}

// For the calls where stream 0 means none (allocate, free, copy).
bool find_stream_or_none(JNIEnv* env, jlong manager, jlong token, Stream* out) noexcept {
  if (token == 0) {
    *out = StreamOrderedPool::kNoStream;
    return true;
  }
  return find_stream(env, manager, token, out);
}

bool find_event(JNIEnv* env, jlong manager, jlong token, Event* out) noexcept {
  return find_runtime_handle(env, manager, token, HandleKind::kEvent, out);
}

void* as_object(std::uintptr_t handle) noexcept { return reinterpret_cast<void*>(handle); }

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

// A copy descriptor's side in device or pinned memory must be a live block
// of this manager's pools, at least as large as the side says. A side in
// pageable host memory comes as a direct buffer (HostMemory's, or a view of
// a host pool's block), whose address and capacity replace the descriptor's:
// no raw host address crosses JNI, and a buffer is memory the JVM vouches for.
bool check_side(JNIEnv* env, DeviceManager* manager, jlong* side, jobject host, const char* what) noexcept {
  const auto kind = static_cast<MemoryKind>(side[2]);
  if (kind != MemoryKind::kDevice && kind != MemoryKind::kPinnedHost) {
    void* address = host == nullptr ? nullptr : env->GetDirectBufferAddress(host);
    if (address == nullptr) [[unlikely]] {
      return ok(env, nativepool::fail(Status::kInvalidArgument,
                                      "the %s is pageable host memory, so it must come as a direct ByteBuffer", what));
    }
    side[0] = static_cast<jlong>(reinterpret_cast<std::uintptr_t>(address));
    side[1] = env->GetDirectBufferCapacity(host);
    return true;
  }
  const jint device = kind == MemoryKind::kPinnedHost ? kPinned : static_cast<jint>(side[3]);
  StreamOrderedPool* pool = pool_of(env, manager, device);
  if (pool == nullptr) return false;
  std::size_t size = 0;
  if (!to_size(env, side[1], what, &size)) return false;
  if (!pool->holds(reinterpret_cast<const void*>(side[0]), size)) [[unlikely]] {
    return ok(env, nativepool::fail(Status::kInvalidArgument, "the %s 0x%llx is no live %s block of %zu bytes", what,
                                    static_cast<unsigned long long>(side[0]), nativepool::memory_kind_name(kind),
                                    size));
  }
  return true;
}

// Wraps the backend of the manager's pool of @p device (kPinned: the pinned
// pool) so that its regions become Flight Recorder events of the pool
// "<manager>:device<i>" or "<manager>:pinned", the names of its JMX beans
// and those Device.poolName() and DeviceManager.pinnedPoolName() give Java
// (DeviceRegionEventsTest holds the two to one name).
// Its org.nativepool.RegionEvents is made here: the class is package-private
// in org.nativepool, out of reach of the gpu package.
Status report_manager_regions(JNIEnv* env, jstring manager, int device,
                              std::shared_ptr<nativepool::Backend>* backend) noexcept {
  const char* chars = env->GetStringUTFChars(manager, nullptr);
  if (chars == nullptr) {
    env->ExceptionClear();  // the OutOfMemoryError: the status reports it
    return nativepool::fail(Status::kInternal, "out of memory for a device pool's region events");
  }
  jstring pool = nullptr;
  try {
    const std::string name =
        std::string(chars) + (device == kPinned ? std::string(":pinned") : ":device" + std::to_string(device));
    pool = env->NewStringUTF(name.c_str());
  } catch (const std::bad_alloc&) {
  }
  env->ReleaseStringUTFChars(manager, chars);
  jclass cls = pool != nullptr ? env->FindClass("org/nativepool/RegionEvents") : nullptr;
  const jmethodID init = cls != nullptr ? env->GetMethodID(cls, "<init>", "(Ljava/lang/String;)V") : nullptr;
  jobject sink = init != nullptr ? env->NewObject(cls, init, pool) : nullptr;
  if (cls != nullptr) env->DeleteLocalRef(cls);
  if (pool != nullptr) env->DeleteLocalRef(pool);
  if (sink == nullptr) {
    env->ExceptionClear();  // what the VM raised, out of memory most likely: the status reports it
    return nativepool::fail(Status::kInternal, "no region event sink for device pool %d", device);
  }
  const Status status = nativepool::jni::report_regions(env, sink, backend);  // holds its own reference
  env->DeleteLocalRef(sink);
  return status;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_createManager(
    JNIEnv* env, jclass, jboolean simulated, jint simulated_devices, jlong simulated_capacity, jlong arena_size,
    jlong max_bytes_per_device, jlong pinned_arena_size, jlong pinned_max_bytes, jint safety, jstring name) {
  nativepool::gpu::DeviceManagerConfig config;
  config.safety = static_cast<nativepool::SafetyLevel>(safety);
  if (name == nullptr) {
    throw_status(env, nativepool::fail(Status::kInvalidArgument, "device manager: null name"), nullptr, 0);
    return 0;
  }
  // Runs inside create(), on this thread, while env is valid.
  config.wrap_backend = [env, name](int device, std::shared_ptr<nativepool::Backend>* backend) noexcept {
    return report_manager_regions(env, name, device, backend);
  };
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
  const jlong token = nativepool::jni::issue(env, HandleKind::kManager, manager.get());
  if (token != 0) (void)manager.release();  // the table's slot owns it until destroyManager()
  return token;
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_destroyManager(JNIEnv* env, jclass, jlong manager) {
  void* object = nullptr;
  if (nativepool::jni::retire(env, manager, HandleKind::kManager, &object)) delete static_cast<DeviceManager*>(object);
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_GpuNative_deviceCount(JNIEnv* env, jclass, jlong handle) {
  DeviceManager* manager = find_manager(env, handle);
  return manager == nullptr ? 0 : manager->device_count();
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_GpuNative_runtimeName(JNIEnv* env, jclass, jlong handle) {
  DeviceManager* manager = find_manager(env, handle);
  if (manager == nullptr) return nullptr;
  const std::string name(manager->runtime().name());
  return env->NewStringUTF(name.c_str());
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_GpuNative_selectDevice(JNIEnv* env, jclass, jlong handle,
                                                                           jint policy, jint requested) {
  DeviceManager* manager = find_manager(env, handle);
  int device = -1;
  if (manager != nullptr) {
    ok(env, manager->select_device(static_cast<nativepool::gpu::SelectionPolicy>(policy), requested, &device));
  }
  return device;
}

JNIEXPORT jboolean JNICALL Java_org_nativepool_internal_GpuNative_peerAccess(JNIEnv* env, jclass, jlong handle,
                                                                             jint device, jint peer) {
  DeviceManager* manager = find_manager(env, handle);
  return manager != nullptr && manager->peer_access(device, peer) ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_createStream(JNIEnv* env, jclass, jlong handle,
                                                                            jint device) {
  DeviceManager* manager = find_manager(env, handle);
  Stream stream{};
  if (manager == nullptr || !ok(env, manager->create_stream(device, &stream))) return 0;
  const jlong token =
      nativepool::jni::issue(env, HandleKind::kStream, as_object(static_cast<std::uintptr_t>(stream)), handle);
  if (token == 0) manager->destroy_stream(stream);
  return token;
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_destroyStream(JNIEnv* env, jclass, jlong handle,
                                                                            jlong stream) {
  DeviceManager* manager = find_manager(env, handle);
  void* object = nullptr;
  if (manager != nullptr && nativepool::jni::retire(env, stream, HandleKind::kStream, &object, handle)) {
    manager->destroy_stream(static_cast<Stream>(reinterpret_cast<std::uintptr_t>(object)));
  }
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_synchronizeStream(JNIEnv* env, jclass, jlong handle,
                                                                                jlong token) {
  DeviceManager* manager = find_manager(env, handle);
  Stream stream{};
  if (manager != nullptr && find_stream(env, handle, token, &stream)) {
    ok(env, manager->runtime().stream_synchronize(stream));
  }
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_createEvent(JNIEnv* env, jclass, jlong handle,
                                                                           jint device) {
  DeviceManager* manager = find_manager(env, handle);
  Event event{};
  if (manager == nullptr || !ok(env, manager->create_event(device, &event))) return 0;
  const jlong token =
      nativepool::jni::issue(env, HandleKind::kEvent, as_object(static_cast<std::uintptr_t>(event)), handle);
  if (token == 0) manager->destroy_event(event);
  return token;
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_destroyEvent(JNIEnv* env, jclass, jlong handle,
                                                                           jlong event) {
  DeviceManager* manager = find_manager(env, handle);
  void* object = nullptr;
  if (manager != nullptr && nativepool::jni::retire(env, event, HandleKind::kEvent, &object, handle)) {
    manager->destroy_event(static_cast<Event>(reinterpret_cast<std::uintptr_t>(object)));
  }
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_recordEvent(JNIEnv* env, jclass, jlong handle,
                                                                          jlong event_token, jlong stream_token) {
  DeviceManager* manager = find_manager(env, handle);
  Event event{};
  Stream stream{};
  if (manager != nullptr && find_event(env, handle, event_token, &event) &&
      find_stream(env, handle, stream_token, &stream)) {
    ok(env, manager->runtime().event_record(event, stream));
  }
}

JNIEXPORT jboolean JNICALL Java_org_nativepool_internal_GpuNative_queryEvent(JNIEnv* env, jclass, jlong handle,
                                                                             jlong event_token) {
  DeviceManager* manager = find_manager(env, handle);
  Event event{};
  bool complete = false;
  if (manager != nullptr && find_event(env, handle, event_token, &event)) {
    ok(env, manager->runtime().event_query(event, &complete));
  }
  return complete ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_synchronizeEvent(JNIEnv* env, jclass, jlong handle,
                                                                               jlong event_token) {
  DeviceManager* manager = find_manager(env, handle);
  Event event{};
  if (manager != nullptr && find_event(env, handle, event_token, &event)) {
    ok(env, manager->runtime().event_synchronize(event));
  }
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_waitEvent(JNIEnv* env, jclass, jlong handle,
                                                                        jlong stream_token, jlong event_token) {
  DeviceManager* manager = find_manager(env, handle);
  Stream stream{};
  Event event{};
  if (manager != nullptr && find_stream(env, handle, stream_token, &stream) &&
      find_event(env, handle, event_token, &event)) {
    ok(env, manager->runtime().stream_wait_event(stream, event));
  }
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_allocate(JNIEnv* env, jclass, jlong handle,
                                                                        jint device, jlong size, jlong stream_token) {
  std::size_t bytes = 0;
  DeviceManager* manager = find_manager(env, handle);
  Stream stream{};
  if (manager == nullptr || !find_stream_or_none(env, handle, stream_token, &stream) ||
      !to_size(env, size, "size", &bytes)) {
    return 0;
  }
  StreamOrderedPool* pool = pool_of(env, manager, device);
  if (pool == nullptr) return 0;
  void* block = nullptr;
  const Status status = pool->allocate(bytes, stream, &block);
  if (status != Status::kOk) [[unlikely]] {
    throw_status(env, status, pool->stats().upstream.fragmentation, bytes);
    return 0;
  }
  return reinterpret_cast<jlong>(block);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_free(JNIEnv* env, jclass, jlong handle, jint device,
                                                                   jlong address, jlong stream_token) {
  DeviceManager* manager = find_manager(env, handle);
  Stream stream{};
  if (manager == nullptr || !find_stream_or_none(env, handle, stream_token, &stream)) return;
  StreamOrderedPool* pool = pool_of(env, manager, device);
  if (pool != nullptr) ok(env, pool->deallocate(reinterpret_cast<void*>(address), stream));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_trim(JNIEnv* env, jclass, jlong handle, jint device) {
  DeviceManager* manager = find_manager(env, handle);
  StreamOrderedPool* pool = manager == nullptr ? nullptr : pool_of(env, manager, device);
  return pool == nullptr ? 0 : static_cast<jlong>(pool->trim());
}

JNIEXPORT jobjectArray JNICALL Java_org_nativepool_internal_GpuNative_snapshot(JNIEnv* env, jclass, jlong manager,
                                                                              jint device) {
  DeviceManager* found = find_manager(env, manager);
  StreamOrderedPool* pool = found == nullptr ? nullptr : pool_of(env, found, device);
  nativepool::MemorySnapshot snapshot;
  if (pool == nullptr || !ok(env, pool->snapshot(&snapshot))) return nullptr;
  return nativepool::jni::snapshot_to_java(env, snapshot);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_copy(JNIEnv* env, jclass, jlong handle, jlongArray dst,
                                                                   jobject dst_host, jlongArray src, jobject src_host,
                                                                   jlong bytes, jlong stream_token, jboolean wait) {
  // Each side: {address, size, memory kind, device, offset}.
  jlong d[5];
  jlong s[5];
  DeviceManager* manager = find_manager(env, handle);
  Stream stream{};
  if (manager == nullptr || !find_stream_or_none(env, handle, stream_token, &stream) ||
      !check_array(env, dst, 5, "destination descriptor") || !check_array(env, src, 5, "source descriptor")) {
    return;
  }
  env->GetLongArrayRegion(dst, 0, 5, d);
  env->GetLongArrayRegion(src, 0, 5, s);
  std::size_t count = 0;
  std::size_t dst_offset = 0;
  std::size_t src_offset = 0;
  if (!to_size(env, bytes, "byte count", &count) || !to_size(env, d[4], "destination offset", &dst_offset) ||
      !to_size(env, s[4], "source offset", &src_offset) || !check_side(env, manager, d, dst_host, "destination") ||
      !check_side(env, manager, s, src_host, "source")) {
    return;
  }
  const auto range = [](const jlong* side) {
    return nativepool::gpu::MemoryRange{reinterpret_cast<void*>(side[0]), static_cast<std::size_t>(side[1]),
                                        static_cast<MemoryKind>(side[2]), static_cast<int>(side[3])};
  };
  const auto copy = wait ? &nativepool::gpu::copy : &nativepool::gpu::copy_async;
  ok(env, copy(manager->runtime(), range(d), dst_offset, range(s), src_offset, count, stream));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_GpuNative_stats(JNIEnv* env, jclass, jlong handle, jint device,
                                                                    jlongArray out) {
  DeviceManager* m = find_manager(env, handle);
  if (m == nullptr || !check_array(env, out, kDeviceStatsFields, "device stats array")) return;
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

JNIEXPORT jobject JNICALL Java_org_nativepool_internal_GpuNative_wrapPinned(JNIEnv* env, jclass, jlong handle,
                                                                           jlong address, jlong size) {
  DeviceManager* manager = find_manager(env, handle);
  std::size_t bytes = 0;
  if (manager == nullptr || !to_size(env, size, "view size", &bytes)) return nullptr;
  if (!manager->pinned_pool().holds(reinterpret_cast<const void*>(address), bytes)) [[unlikely]] {
    ok(env, nativepool::fail(Status::kInvalidArgument, "0x%llx is no live pinned buffer of %zu bytes: no view of it",
                             static_cast<unsigned long long>(address), bytes));
    return nullptr;
  }
  return env->NewDirectByteBuffer(reinterpret_cast<void*>(address), size);
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_GpuNative_directAddress(JNIEnv* env, jclass, jobject buffer) {
  if (buffer == nullptr) [[unlikely]] {
    nativepool::jni::throw_invalid_argument(env, "the buffer is null");
    return 0;
  }
  return reinterpret_cast<jlong>(env->GetDirectBufferAddress(buffer));
}

}  // extern "C"

namespace nativepool::jni {

bool register_gpu_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, createManager, "(ZIJJJJJILjava/lang/String;)J"),
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
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, copy,
                        "(J[JLjava/nio/ByteBuffer;[JLjava/nio/ByteBuffer;JJZ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, stats, "(JI[J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, wrapPinned, "(JJJ)Ljava/nio/ByteBuffer;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_GpuNative, directAddress, "(Ljava/nio/ByteBuffer;)J"),
  };
  return register_natives(env, "org/nativepool/internal/GpuNative", methods);
}

}  // namespace nativepool::jni
