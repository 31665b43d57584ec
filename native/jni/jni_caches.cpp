// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.CacheNative: opens and closes the
// parked-block counter (block_cache.hpp) of a Java org.nativepool.BlockCache,
// which the cache then writes through a direct ByteBuffer, without JNI calls.
#include <jni.h>

#include <iterator>

#include "jni_errors.hpp"
#include "jni_registration.hpp"
#include "nativepool/block_cache.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_CacheNative.h"
#endif

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_CacheNative_open(JNIEnv* env, jclass, jlong handle) {
  const auto* pool = reinterpret_cast<const nativepool::Pool*>(handle);
  if (pool->info().block_size == 0) {
    nativepool::jni::throw_invalid_argument(env, "thread caches serve fixed-size pools only");
    return 0;
  }
  nativepool::ParkedCounter* counter = nativepool::open_parked_counter(pool);
  if (counter == nullptr) {
    (void)nativepool::fail(nativepool::Status::kInternal, "out of host memory for a thread cache");
    nativepool::jni::throw_status(env, nativepool::Status::kInternal, nullptr, 0);
  }
  return reinterpret_cast<jlong>(counter);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_CacheNative_close(JNIEnv*, jclass, jlong counter) {
  nativepool::close_parked_counter(reinterpret_cast<nativepool::ParkedCounter*>(counter));
}

}  // extern "C"

namespace nativepool::jni {

bool register_cache_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_CacheNative, open, "(J)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_CacheNative, close, "(J)V"),
  };
  return register_natives(env, "org/nativepool/internal/CacheNative", methods);
}

}  // namespace nativepool::jni
