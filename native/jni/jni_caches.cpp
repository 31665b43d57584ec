// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.CacheNative: opens and closes the
// parked-block counter (block_cache.hpp) of a Java org.nativepool.BlockCache,
// which the cache then writes through the direct ByteBuffer counter() makes,
// without JNI calls. A cache's handle is a token of the handle table.
#include <jni.h>

#include <iterator>

#include "jni_errors.hpp"
#include "jni_handles.hpp"
#include "jni_regions.hpp"
#include "jni_registration.hpp"
#include "nativepool/block_cache.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_CacheNative.h"
#endif

extern "C" {

using nativepool::jni::HandleKind;

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_CacheNative_open(JNIEnv* env, jclass, jlong handle) {
  const nativepool::Pool* pool = nativepool::jni::find_pool(env, handle);
  if (pool == nullptr) return 0;
  if (pool->info().block_size == 0) {
    nativepool::jni::throw_invalid_argument(env, "thread caches serve fixed-size pools only");
    return 0;
  }
  nativepool::ParkedCounter* counter = nativepool::open_parked_counter(pool);
  if (counter == nullptr) {
    (void)nativepool::fail(nativepool::Status::kInternal, "out of host memory for a thread cache");
    nativepool::jni::throw_status(env, nativepool::Status::kInternal, nullptr, 0);
    return 0;
  }
  const jlong token = nativepool::jni::issue(env, HandleKind::kCache, counter);
  if (token == 0) nativepool::close_parked_counter(counter);
  return token;
}

JNIEXPORT jobject JNICALL Java_org_nativepool_internal_CacheNative_counter(JNIEnv* env, jclass, jlong cache) {
  auto* counter = nativepool::jni::find<nativepool::ParkedCounter>(env, cache, HandleKind::kCache);
  return counter == nullptr ? nullptr : env->NewDirectByteBuffer(&counter->blocks, sizeof counter->blocks);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_CacheNative_close(JNIEnv* env, jclass, jlong cache) {
  void* counter = nullptr;
  if (nativepool::jni::retire(env, cache, HandleKind::kCache, &counter)) {
    nativepool::close_parked_counter(static_cast<nativepool::ParkedCounter*>(counter));
  }
}

}  // extern "C"

namespace nativepool::jni {

bool register_cache_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_CacheNative, open, "(J)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_CacheNative, counter, "(J)Ljava/nio/ByteBuffer;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_CacheNative, close, "(J)V"),
  };
  return register_natives(env, "org/nativepool/internal/CacheNative", methods);
}

}  // namespace nativepool::jni
