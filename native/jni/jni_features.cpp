// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.FeatureNative and of the version check
// in org.nativepool.internal.NativeLibrary.
#include <jni.h>

#include <iterator>

#include "jni_errors.hpp"
#include "jni_registration.hpp"
#include "nativepool/features.hpp"
#include "nativepool/numa.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_FeatureNative.h"
#include "org_nativepool_internal_NativeLibrary.h"
#endif

extern "C" {

JNIEXPORT void JNICALL Java_org_nativepool_internal_FeatureNative_probe(JNIEnv* env, jclass, jlongArray out) {
  const nativepool::Features f = nativepool::probe_features();
  // Order of the fields org.nativepool.Features reads.
  const jlong fields[] = {f.cuda_compiled, f.cuda_devices,   f.numa_compiled,       f.numa_available,
                          f.numa_nodes,    f.persistent_compiled,  f.valgrind_hooks,      f.running_on_valgrind,
                          f.huge_pages,    f.sanitizers};
  if (!nativepool::jni::check_array(env, out, static_cast<jlong>(std::size(fields)), "feature array")) return;
  env->SetLongArrayRegion(out, 0, static_cast<jsize>(std::size(fields)), fields);
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_FeatureNative_numaUnavailableReason(JNIEnv* env, jclass) {
  // Not probe_features(): the reason alone needs none of the other probes.
  return env->NewStringUTF(nativepool::numa_unavailable_reason());
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_NativeLibrary_nativeVersion(JNIEnv* env, jclass) {
  return env->NewStringUTF(nativepool::probe_features().version);
}

}  // extern "C"

namespace nativepool::jni {

bool register_feature_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod feature_methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_FeatureNative, probe, "([J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_FeatureNative, numaUnavailableReason, "()Ljava/lang/String;"),
  };
  static const JNINativeMethod library_methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_NativeLibrary, nativeVersion, "()Ljava/lang/String;"),
  };
  return register_natives(env, "org/nativepool/internal/FeatureNative", feature_methods) &&
         register_natives(env, "org/nativepool/internal/NativeLibrary", library_methods);
}

}  // namespace nativepool::jni
