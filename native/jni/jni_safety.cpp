// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.SafetyNative: block verification, leak
// reports and the build's default safety level.
#include <jni.h>

#include <iterator>
#include <new>
#include <string>

#include "jni_errors.hpp"
#include "jni_regions.hpp"
#include "jni_registration.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/safety/safety_level.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_SafetyNative.h"
#endif

extern "C" {

JNIEXPORT void JNICALL Java_org_nativepool_internal_SafetyNative_verify(JNIEnv* env, jclass, jlong handle) {
  const nativepool::Pool* pool = nativepool::jni::find_pool(env, handle);
  if (pool == nullptr) return;
  const nativepool::Status status = pool->verify();
  if (status != nativepool::Status::kOk) nativepool::jni::throw_status(env, status, nullptr, 0);
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_SafetyNative_leakReport(JNIEnv* env, jclass,
                                                                               jlong handle) {
  const nativepool::Pool* pool = nativepool::jni::find_pool(env, handle);
  if (pool == nullptr) return nullptr;
  try {
    std::string report;
    if (!pool->leak_report(&report)) return nullptr;
    return env->NewStringUTF(report.c_str());
  } catch (const std::bad_alloc&) {
    nativepool::jni::throw_status(
        env, nativepool::fail(nativepool::Status::kInternal, "out of host memory for the leak report"), nullptr, 0);
    return nullptr;
  }
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_SafetyNative_defaultLevel(JNIEnv*, jclass) {
  return static_cast<jint>(nativepool::default_safety_level());
}

}  // extern "C"

namespace nativepool::jni {

bool register_safety_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_SafetyNative, verify, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_SafetyNative, leakReport, "(J)Ljava/lang/String;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_SafetyNative, defaultLevel, "()I"),
  };
  return register_natives(env, "org/nativepool/internal/SafetyNative", methods);
}

}  // namespace nativepool::jni
