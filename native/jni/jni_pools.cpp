// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.PoolNative: converts arguments, calls
// the core, maps failures to exceptions. No policy lives here: the core
// validates every size, alignment and pointer.
#include <jni.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "jni_errors.hpp"
#include "jni_registration.hpp"
#include "nativepool/backends.hpp"
#include "nativepool/pool_factory.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_PoolNative.h"
#endif

namespace {

using nativepool::Pool;
using nativepool::Status;
using nativepool::jni::throw_status;
using nativepool::jni::to_size;

static_assert(sizeof(jlong) == sizeof(void*), "addresses travel as jlong");

// The lengths of the arrays stats() and info() fill: declared once, in
// PoolNative, and checked here against the javac -h header whenever the glue
// is built from it.
constexpr jint kStatsFields = 15;
constexpr jint kInfoFields = 5;
#ifdef NATIVEPOOL_HAVE_JAVAH
static_assert(kStatsFields == org_nativepool_internal_PoolNative_STATS_FIELDS);
static_assert(kInfoFields == org_nativepool_internal_PoolNative_INFO_FIELDS);
#endif

// A batch's addresses: false (and an exception pending) for a negative count
// or an array shorter than it.
bool check_batch(JNIEnv* env, jlongArray addresses, jint count) noexcept {
  if (count < 0) [[unlikely]] {
    nativepool::jni::throw_invalid_argument(env, "a batch's count must not be negative");
    return false;
  }
  return nativepool::jni::check_array(env, addresses, count, "address array");
}

// The Java side holds each pool handle between acquire() and release() of its
// in-flight guard, so a handle reaching this file always points to a live pool.
Pool* as_pool(jlong handle) noexcept { return reinterpret_cast<Pool*>(handle); }

jlong to_handle(std::unique_ptr<Pool> pool) noexcept { return reinterpret_cast<jlong>(pool.release()); }


}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_createFixed(
    JNIEnv* env, jclass, jlong block_size, jlong alignment, jlong blocks_per_chunk, jlong initial_blocks,
    jlong max_blocks, jint thread_cache_blocks, jint thread_safety, jint backend_type, jint backend_parameter,
    jint safety) {
  nativepool::FixedPoolConfig config;
  if (thread_cache_blocks < 0) {
    nativepool::jni::throw_invalid_argument(env, "a thread cache's capacity must not be negative");
    return 0;
  }
  config.thread_cache_blocks = static_cast<std::size_t>(thread_cache_blocks);
  if (!to_size(env, block_size, "block size", &config.block_size) ||
      !to_size(env, alignment, "alignment", &config.alignment) ||
      !to_size(env, blocks_per_chunk, "blocks per chunk", &config.blocks_per_chunk) ||
      !to_size(env, initial_blocks, "initial blocks", &config.initial_blocks) ||
      !to_size(env, max_blocks, "max blocks", &config.max_blocks)) {
    return 0;
  }
  std::unique_ptr<Pool> pool;
  const Status status = nativepool::make_pool_over(
      static_cast<nativepool::BackendType>(backend_type), backend_parameter,
      [&](std::shared_ptr<nativepool::Backend> backend, std::unique_ptr<Pool>* out) noexcept {
        return nativepool::make_fixed_pool(config, static_cast<nativepool::ThreadSafety>(thread_safety),
                                           std::move(backend), out, static_cast<nativepool::SafetyLevel>(safety));
      },
      &pool);
  if (status != Status::kOk) {
    throw_status(env, status, nullptr, config.block_size);
    return 0;
  }
  return to_handle(std::move(pool));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_createVariable(
    JNIEnv* env, jclass, jlong arena_size, jlong granularity, jlong initial_bytes, jlong max_bytes,
    jint thread_safety, jint backend_type, jint backend_parameter, jint safety) {
  nativepool::VariablePoolConfig config;
  if (!to_size(env, arena_size, "arena size", &config.arena_size) ||
      !to_size(env, granularity, "granularity", &config.granularity) ||
      !to_size(env, initial_bytes, "initial capacity", &config.initial_bytes) ||
      !to_size(env, max_bytes, "max capacity", &config.max_bytes)) {
    return 0;
  }
  std::unique_ptr<Pool> pool;
  const Status status = nativepool::make_pool_over(
      static_cast<nativepool::BackendType>(backend_type), backend_parameter,
      [&](std::shared_ptr<nativepool::Backend> backend, std::unique_ptr<Pool>* out) noexcept {
        return nativepool::make_variable_pool(config, static_cast<nativepool::ThreadSafety>(thread_safety),
                                              std::move(backend), out, static_cast<nativepool::SafetyLevel>(safety));
      },
      &pool);
  if (status != Status::kOk) {
    throw_status(env, status, nullptr, config.initial_bytes);
    return 0;
  }
  return to_handle(std::move(pool));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_destroy(JNIEnv*, jclass, jlong pool) {
  delete as_pool(pool);
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_allocate(JNIEnv* env, jclass, jlong handle,
                                                                         jlong size, jlong alignment) {
  std::size_t bytes = 0;
  std::size_t align = 0;
  if (!to_size(env, size, "size", &bytes) || !to_size(env, alignment, "alignment", &align)) return 0;
  Pool* pool = as_pool(handle);
  void* block = nullptr;
  const Status status = pool->allocate(bytes, align, &block);
  if (status != Status::kOk) [[unlikely]] {
    throw_status(env, status, pool, bytes);
    return 0;
  }
  return reinterpret_cast<jlong>(block);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_free(JNIEnv* env, jclass, jlong handle,
                                                                    jlong address) {
  Pool* pool = as_pool(handle);
  const Status status = pool->deallocate(reinterpret_cast<void*>(address));
  if (status != Status::kOk) [[unlikely]] throw_status(env, status, pool, 0);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_allocateBatch(JNIEnv* env, jclass, jlong handle,
                                                                             jlong size, jlong alignment,
                                                                             jlongArray out, jint count) {
  std::size_t bytes = 0;
  std::size_t align = 0;
  if (!to_size(env, size, "size", &bytes) || !to_size(env, alignment, "alignment", &align) ||
      !check_batch(env, out, count)) {
    return;
  }
  Pool* pool = as_pool(handle);
  // Critical access: no copy of the array, and nothing in between may call
  // back into the JVM, which the core never does.
  auto* addresses = static_cast<jlong*>(env->GetPrimitiveArrayCritical(out, nullptr));
  if (addresses == nullptr) return;
  const Status status =
      pool->allocate_batch(bytes, align, reinterpret_cast<void**>(addresses), static_cast<std::size_t>(count));
  env->ReleasePrimitiveArrayCritical(out, addresses, status == Status::kOk ? 0 : JNI_ABORT);
  if (status != Status::kOk) [[unlikely]] throw_status(env, status, pool, bytes);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_freeBatch(JNIEnv* env, jclass, jlong handle,
                                                                         jlongArray addresses, jint count) {
  if (!check_batch(env, addresses, count)) return;
  Pool* pool = as_pool(handle);
  auto* elements = static_cast<jlong*>(env->GetPrimitiveArrayCritical(addresses, nullptr));
  if (elements == nullptr) return;
  std::size_t freed = 0;
  const Status status = pool->deallocate_batch(reinterpret_cast<void* const*>(elements),
                                               static_cast<std::size_t>(count), &freed);
  env->ReleasePrimitiveArrayCritical(addresses, elements, JNI_ABORT);
  if (status != Status::kOk) [[unlikely]] {
    (void)nativepool::fail_with_detail(status, "addresses[%zu] (the %zu address(es) before it were freed)", freed,
                                       freed);
    throw_status(env, status, pool, 0);
  }
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_trim(JNIEnv*, jclass, jlong handle) {
  return static_cast<jlong>(as_pool(handle)->trim());
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_validate(JNIEnv* env, jclass, jlong handle) {
  const Status status = as_pool(handle)->validate();
  if (status != Status::kOk) throw_status(env, status, nullptr, 0);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_stats(JNIEnv* env, jclass, jlong handle,
                                                                     jlongArray out) {
  nativepool::jni::store_stats(env, as_pool(handle)->stats(), out);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_info(JNIEnv* env, jclass, jlong handle,
                                                                    jlongArray out) {
  if (!nativepool::jni::check_array(env, out, kInfoFields, "info array")) return;
  const nativepool::PoolInfo& info = as_pool(handle)->info();
  const jlong fields[] = {static_cast<jlong>(info.kind), info.device, static_cast<jlong>(info.thread_safety),
                          static_cast<jlong>(info.block_size), static_cast<jlong>(info.alignment)};
  static_assert(static_cast<jint>(std::size(fields)) == kInfoFields, "PoolNative.info field order");
  env->SetLongArrayRegion(out, 0, static_cast<jsize>(std::size(fields)), fields);
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_PoolNative_backendName(JNIEnv* env, jclass, jlong handle) {
  return env->NewStringUTF(as_pool(handle)->info().backend.c_str());
}

JNIEXPORT jobjectArray JNICALL Java_org_nativepool_internal_PoolNative_snapshot(JNIEnv* env, jclass,
                                                                               jlong handle) {
  nativepool::MemorySnapshot snapshot;
  const Status status = as_pool(handle)->snapshot(&snapshot);
  if (status != Status::kOk) {
    throw_status(env, status, nullptr, 0);
    return nullptr;
  }
  return nativepool::jni::snapshot_to_java(env, snapshot);
}

JNIEXPORT jobject JNICALL Java_org_nativepool_internal_PoolNative_wrap(JNIEnv* env, jclass, jlong address,
                                                                       jlong size) {
  return env->NewDirectByteBuffer(reinterpret_cast<void*>(address), size);
}

}  // extern "C"

namespace nativepool::jni {

void store_stats(JNIEnv* env, const PoolStats& s, jlongArray out) noexcept {
  if (!check_array(env, out, kStatsFields, "stats array")) return;
  jlong fragmentation_bits = 0;
  std::memcpy(&fragmentation_bits, &s.fragmentation.external_fragmentation, sizeof fragmentation_bits);
  // Order of org.nativepool.PoolStats' field indices.
  const jlong fields[] = {
      static_cast<jlong>(s.allocations),
      static_cast<jlong>(s.frees),
      static_cast<jlong>(s.failures),
      static_cast<jlong>(s.live_blocks),
      static_cast<jlong>(s.bytes_in_use),
      static_cast<jlong>(s.peak_bytes_in_use),
      static_cast<jlong>(s.reserved.bytes),
      static_cast<jlong>(s.reserved.peak_bytes),
      static_cast<jlong>(s.reserved.regions),
      static_cast<jlong>(s.fragmentation.free_bytes),
      static_cast<jlong>(s.fragmentation.largest_free_block),
      static_cast<jlong>(s.fragmentation.free_blocks),
      fragmentation_bits,
      static_cast<jlong>(s.cached_blocks),
      static_cast<jlong>(s.cached_bytes),
  };
  static_assert(static_cast<jint>(std::size(fields)) == kStatsFields, "PoolStats field order");
  env->SetLongArrayRegion(out, 0, static_cast<jsize>(std::size(fields)), fields);
}

bool register_pool_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, createFixed, "(JJJJJIIIII)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, createVariable, "(JJJJIIII)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, destroy, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, allocate, "(JJJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, free, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, allocateBatch, "(JJJ[JI)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, freeBatch, "(J[JI)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, trim, "(J)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, validate, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, stats, "(J[J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, info, "(J[J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, backendName, "(J)Ljava/lang/String;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, snapshot, "(J)[Ljava/lang/Object;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, wrap, "(JJ)Ljava/nio/ByteBuffer;"),
  };
  return register_natives(env, "org/nativepool/internal/PoolNative", methods);
}

}  // namespace nativepool::jni
