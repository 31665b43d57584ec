// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.PoolNative: converts arguments, calls
// the core, maps failures to exceptions. No policy lives here: the core
// validates every size, alignment and pointer.
#include <jni.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "jni_budget.hpp"
#include "jni_errors.hpp"
#include "jni_handles.hpp"
#include "jni_region_events.hpp"
#include "jni_regions.hpp"
#include "jni_registration.hpp"
#include "nativepool/backends.hpp"
#include "nativepool/pool_factory.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_PoolNative.h"
#endif

namespace {

using nativepool::Pool;
using nativepool::Status;
using nativepool::jni::find_pool;
using nativepool::jni::HandleKind;
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

// Builds a pool over (type, parameter) with make, each of its backends
// recording its regions for wrap(), reporting them to region_events (the
// pool's org.nativepool.RegionEvents, or null) and, given a BudgetCharge,
// charging them to the pool's budget; returns its token, or 0 with an
// exception pending on failure (requested: the size an out-of-memory message
// quotes).
jlong create_pool(JNIEnv* env, jint type, jint parameter, jobject budget_charge, jobject region_events,
                  const nativepool::NodePoolMaker& make, std::size_t requested) noexcept {
  auto entry = std::unique_ptr<nativepool::jni::PoolEntry>(new (std::nothrow) nativepool::jni::PoolEntry);
  std::shared_ptr<nativepool::jni::RegionSet> regions;
  try {
    regions = std::make_shared<nativepool::jni::RegionSet>();
  } catch (const std::bad_alloc&) {
  }
  if (entry == nullptr || regions == nullptr) {
    throw_status(env, nativepool::fail(Status::kInternal, "out of host memory for a pool"), nullptr, 0);
    return 0;
  }
  std::shared_ptr<const nativepool::jni::JavaCharge> charge;
  if (budget_charge != nullptr && (charge = nativepool::jni::JavaCharge::create(env, budget_charge)) == nullptr) {
    return 0;
  }
  const Status status = nativepool::make_pool_over(
      static_cast<nativepool::BackendType>(type), parameter,
      [&](std::shared_ptr<nativepool::Backend> backend, std::unique_ptr<Pool>* out) noexcept {
        std::shared_ptr<nativepool::Backend> wrapped;
        try {
          wrapped = std::make_shared<nativepool::jni::RecordingBackend>(std::move(backend), regions);
        } catch (const std::bad_alloc&) {
          return nativepool::fail(Status::kInternal, "out of host memory for a pool's backend");
        }
        // Reporting outside recording: a region the region list refused is never reported; charging
        // outside both: a region the budget refused is never mapped.
        if (const Status reported = nativepool::jni::report_regions(env, region_events, &wrapped);
            reported != Status::kOk) {
          return reported;
        }
        if (charge != nullptr) {
          try {
            wrapped = std::make_shared<nativepool::jni::BudgetedBackend>(wrapped, charge);
          } catch (const std::bad_alloc&) {
            return nativepool::fail(Status::kInternal, "out of host memory for a pool's backend");
          }
        }
        return make(std::move(wrapped), out);
      },
      &entry->pool);
  if (status != Status::kOk) {
    throw_status(env, status, nullptr, requested);
    return 0;
  }
  entry->regions = std::move(regions);
  entry->calls_java = charge != nullptr;
  const jlong token = nativepool::jni::issue(env, HandleKind::kPool, entry.get());
  if (token != 0) (void)entry.release();  // the table's slot owns it until destroy()
  return token;
}

// A thread cache's capacity from Java's builder, where 0 means none; the
// pool factory refuses what is outside its range with the range.
bool to_capacity(JNIEnv* env, jint blocks, std::size_t* out) noexcept {
  if (blocks < 0) {
    nativepool::jni::throw_invalid_argument(env, "a thread cache's capacity must not be negative");
    return false;
  }
  *out = static_cast<std::size_t>(blocks);
  return true;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_createFixed(
    JNIEnv* env, jclass, jlong block_size, jlong alignment, jlong blocks_per_chunk, jlong initial_blocks,
    jlong max_blocks, jint thread_cache_blocks, jint thread_safety, jint backend_type, jint backend_parameter,
    jint safety, jobject budget_charge, jobject region_events) {
  nativepool::FixedPoolConfig config;
  if (!to_capacity(env, thread_cache_blocks, &config.thread_cache_blocks) ||
      !to_size(env, block_size, "block size", &config.block_size) ||
      !to_size(env, alignment, "alignment", &config.alignment) ||
      !to_size(env, blocks_per_chunk, "blocks per chunk", &config.blocks_per_chunk) ||
      !to_size(env, initial_blocks, "initial blocks", &config.initial_blocks) ||
      !to_size(env, max_blocks, "max blocks", &config.max_blocks)) {
    return 0;
  }
  return create_pool(
      env, backend_type, backend_parameter, budget_charge, region_events,
      [&](std::shared_ptr<nativepool::Backend> backend, std::unique_ptr<Pool>* out) noexcept {
        return nativepool::make_fixed_pool(config, static_cast<nativepool::ThreadSafety>(thread_safety),
                                           std::move(backend), out, static_cast<nativepool::SafetyLevel>(safety));
      },
      config.block_size);
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_createVariable(
    JNIEnv* env, jclass, jlong arena_size, jlong granularity, jlong initial_bytes, jlong max_bytes,
    jint thread_cache_blocks, jint thread_safety, jint backend_type, jint backend_parameter, jint safety,
    jobject budget_charge, jobject region_events) {
  nativepool::VariablePoolConfig config;
  if (!to_capacity(env, thread_cache_blocks, &config.thread_cache_blocks) ||
      !to_size(env, arena_size, "arena size", &config.arena_size) ||
      !to_size(env, granularity, "granularity", &config.granularity) ||
      !to_size(env, initial_bytes, "initial capacity", &config.initial_bytes) ||
      !to_size(env, max_bytes, "max capacity", &config.max_bytes)) {
    return 0;
  }
  return create_pool(
      env, backend_type, backend_parameter, budget_charge, region_events,
      [&](std::shared_ptr<nativepool::Backend> backend, std::unique_ptr<Pool>* out) noexcept {
        return nativepool::make_variable_pool(config, static_cast<nativepool::ThreadSafety>(thread_safety),
                                              std::move(backend), out, static_cast<nativepool::SafetyLevel>(safety));
      },
      config.initial_bytes);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_destroy(JNIEnv* env, jclass, jlong handle) {
  void* entry = nullptr;
  if (nativepool::jni::retire(env, handle, HandleKind::kPool, &entry)) {
    delete static_cast<nativepool::jni::PoolEntry*>(entry);
  }
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_allocate(JNIEnv* env, jclass, jlong handle,
                                                                         jlong size, jlong alignment) {
  std::size_t bytes = 0;
  std::size_t align = 0;
  if (!to_size(env, size, "size", &bytes) || !to_size(env, alignment, "alignment", &align)) return 0;
  Pool* pool = find_pool(env, handle);
  if (pool == nullptr) return 0;
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
  Pool* pool = find_pool(env, handle);
  if (pool == nullptr) return;
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
  auto* entry = nativepool::jni::find<nativepool::jni::PoolEntry>(env, handle, HandleKind::kPool);
  if (entry == nullptr) return;
  Pool* pool = entry->pool.get();
  // Critical access: no copy of the array, and nothing in between may call
  // back into the JVM: the region events of a growth wait for the release.
  // A budget charge cannot wait (it may refuse the region before it exists),
  // so the pools that charge one fill the array's elements (a copy) instead.
  Status status = Status::kOk;
  {
    const nativepool::jni::NoJavaScope no_java;
    const bool critical = !entry->calls_java;
    auto* addresses = static_cast<jlong*>(critical ? env->GetPrimitiveArrayCritical(out, nullptr)
                                                   : env->GetLongArrayElements(out, nullptr));
    if (addresses == nullptr) return;
    status = pool->allocate_batch(bytes, align, reinterpret_cast<void**>(addresses), static_cast<std::size_t>(count));
    const jint mode = status == Status::kOk ? 0 : JNI_ABORT;
    if (critical) {
      env->ReleasePrimitiveArrayCritical(out, addresses, mode);
    } else {
      env->ReleaseLongArrayElements(out, addresses, mode);
    }
  }
  if (status != Status::kOk) [[unlikely]] throw_status(env, status, pool, bytes);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_freeBatch(JNIEnv* env, jclass, jlong handle,
                                                                         jlongArray addresses, jint count) {
  Pool* pool = find_pool(env, handle);
  if (pool == nullptr || !check_batch(env, addresses, count)) return;
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

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PoolNative_trim(JNIEnv* env, jclass, jlong handle) {
  Pool* pool = find_pool(env, handle);
  return pool == nullptr ? 0 : static_cast<jlong>(pool->trim());
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_validate(JNIEnv* env, jclass, jlong handle) {
  Pool* pool = find_pool(env, handle);
  if (pool == nullptr) return;
  const Status status = pool->validate();
  if (status != Status::kOk) throw_status(env, status, nullptr, 0);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_stats(JNIEnv* env, jclass, jlong handle,
                                                                     jlongArray out) {
  if (Pool* pool = find_pool(env, handle); pool != nullptr) nativepool::jni::store_stats(env, pool->stats(), out);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PoolNative_info(JNIEnv* env, jclass, jlong handle,
                                                                    jlongArray out) {
  Pool* pool = find_pool(env, handle);
  if (pool == nullptr || !nativepool::jni::check_array(env, out, kInfoFields, "info array")) return;
  const nativepool::PoolInfo& info = pool->info();
  const jlong fields[] = {static_cast<jlong>(info.kind), info.device, static_cast<jlong>(info.thread_safety),
                          static_cast<jlong>(info.block_size), static_cast<jlong>(info.alignment)};
  static_assert(static_cast<jint>(std::size(fields)) == kInfoFields, "PoolNative.info field order");
  env->SetLongArrayRegion(out, 0, static_cast<jsize>(std::size(fields)), fields);
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_PoolNative_backendName(JNIEnv* env, jclass, jlong handle) {
  Pool* pool = find_pool(env, handle);
  return pool == nullptr ? nullptr : env->NewStringUTF(pool->info().backend.c_str());
}

JNIEXPORT jobjectArray JNICALL Java_org_nativepool_internal_PoolNative_snapshot(JNIEnv* env, jclass,
                                                                               jlong handle) {
  Pool* pool = find_pool(env, handle);
  if (pool == nullptr) return nullptr;
  nativepool::MemorySnapshot snapshot;
  const Status status = pool->snapshot(&snapshot);
  if (status != Status::kOk) {
    throw_status(env, status, nullptr, 0);
    return nullptr;
  }
  return nativepool::jni::snapshot_to_java(env, snapshot);
}

JNIEXPORT jobject JNICALL Java_org_nativepool_internal_PoolNative_wrap(JNIEnv* env, jclass, jlong handle,
                                                                       jlong address, jlong size) {
  auto* entry = nativepool::jni::find<nativepool::jni::PoolEntry>(env, handle, HandleKind::kPool);
  std::size_t bytes = 0;
  if (entry == nullptr || !to_size(env, size, "view size", &bytes)) return nullptr;
  if (!entry->regions->contains(reinterpret_cast<const void*>(address), bytes)) [[unlikely]] {
    throw_status(env,
                 nativepool::fail(Status::kInvalidArgument,
                                  "[0x%llx, +%zu) is not host memory of %s: no view of it",
                                  static_cast<unsigned long long>(address), bytes, entry->pool->info().backend.c_str()),
                 nullptr, 0);
    return nullptr;
  }
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
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, createFixed,
                        "(JJJJJIIIIILorg/nativepool/internal/BudgetCharge;Ljava/lang/Object;)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, createVariable,
                        "(JJJJIIIIILorg/nativepool/internal/BudgetCharge;Ljava/lang/Object;)J"),
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
      NATIVEPOOL_NATIVE(org_nativepool_internal_PoolNative, wrap, "(JJJ)Ljava/nio/ByteBuffer;"),
  };
  return register_natives(env, "org/nativepool/internal/PoolNative", methods);
}

}  // namespace nativepool::jni
