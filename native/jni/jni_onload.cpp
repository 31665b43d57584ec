// SPDX-License-Identifier: Apache-2.0
// Library entry points: cache what every call needs, bind every native method
// eagerly so a JAR/library mismatch fails at load time, not at the first call.
#include <jni.h>

#include "jni_errors.hpp"
#include "jni_registration.hpp"

namespace nativepool::jni {

bool register_natives(JNIEnv* env, const char* class_name, const JNINativeMethod* methods, int count) noexcept {
  jclass cls = env->FindClass(class_name);
  if (cls == nullptr) return false;
  const bool ok = env->RegisterNatives(cls, methods, count) == JNI_OK;
  env->DeleteLocalRef(cls);
  return ok;
}

}  // namespace nativepool::jni

extern "C" JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void* /*reserved*/) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_10) != JNI_OK) return JNI_ERR;
  using namespace nativepool::jni;
  if (!cache_exception_classes(env) || !register_pool_natives(env) || !register_feature_natives(env) ||
      !register_gpu_natives(env) ||
      !register_safety_natives(env) ||
      !register_cache_natives(env) ||
      !register_numa_natives(env) ||
      !register_persistent_natives(env) ||
      !register_plugin_natives(env)) {
    return JNI_ERR;
  }
  return JNI_VERSION_10;
}

extern "C" JNIEXPORT void JNICALL JNI_OnUnload(JavaVM* vm, void* /*reserved*/) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_10) == JNI_OK) {
    nativepool::jni::release_exception_classes(env);
  }
}
