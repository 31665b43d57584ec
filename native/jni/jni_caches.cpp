// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.CacheNative: the slots of jni_caches.hpp.
// Opening and closing caches and reading stats are rare, so one global mutex
// guards the registry; the slots themselves are written without it.
#include "jni_caches.hpp"

#include <jni.h>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <new>
#include <unordered_map>

#include "jni_errors.hpp"
#include "jni_registration.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_CacheNative.h"
#endif

namespace nativepool::jni {
namespace {

// Its own cache line: written by the cache's thread on every operation.
struct alignas(64) Slot {
  std::uint64_t parked_blocks = 0;
};

struct Registry {
  std::mutex mutex;
  std::unordered_map<Slot*, const Pool*> slots;  // pool is null once destroyed
};

Registry& registry() noexcept {
  static Registry instance;
  return instance;
}

}  // namespace

std::uint64_t parked_blocks(const Pool* pool) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::uint64_t total = 0;
  for (auto& [slot, owner] : r.slots) {
    // The owning thread stores with plain 8-byte writes; an aligned load sees
    // either the old or the new count.
    if (owner == pool) total += std::atomic_ref<std::uint64_t>(slot->parked_blocks).load(std::memory_order_relaxed);
  }
  return total;
}

void forget_caches(const Pool* pool) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& [slot, owner] : r.slots) {
    if (owner == pool) owner = nullptr;
  }
}

}  // namespace nativepool::jni

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_CacheNative_open(JNIEnv* env, jclass, jlong handle) {
  const auto* pool = reinterpret_cast<const nativepool::Pool*>(handle);
  if (pool->info().block_size == 0) {
    nativepool::jni::throw_invalid_argument(env, "thread caches serve fixed-size pools only");
    return 0;
  }
  auto* slot = new (std::nothrow) nativepool::jni::Slot;
  auto& r = nativepool::jni::registry();
  try {
    if (slot != nullptr) {
      std::lock_guard lock(r.mutex);
      r.slots.emplace(slot, pool);
      return reinterpret_cast<jlong>(slot);
    }
  } catch (const std::bad_alloc&) {
    delete slot;
  }
  (void)nativepool::fail(nativepool::Status::kInternal, "out of host memory for a thread cache");
  nativepool::jni::throw_status(env, nativepool::Status::kInternal, nullptr, 0);
  return 0;
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_CacheNative_close(JNIEnv*, jclass, jlong address) {
  auto* slot = reinterpret_cast<nativepool::jni::Slot*>(address);
  auto& r = nativepool::jni::registry();
  {
    std::lock_guard lock(r.mutex);
    r.slots.erase(slot);
  }
  delete slot;
}

}  // extern "C"

namespace nativepool::jni {

bool register_cache_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      {const_cast<char*>("open"), const_cast<char*>("(J)J"),
       reinterpret_cast<void*>(&Java_org_nativepool_internal_CacheNative_open)},
      {const_cast<char*>("close"), const_cast<char*>("(J)V"),
       reinterpret_cast<void*>(&Java_org_nativepool_internal_CacheNative_close)},
  };
  return register_natives(env, "org/nativepool/internal/CacheNative", methods, static_cast<int>(std::size(methods)));
}

}  // namespace nativepool::jni
