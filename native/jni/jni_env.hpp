// SPDX-License-Identifier: Apache-2.0
/// @file jni_env.hpp
/// @brief The calling thread's JNIEnv, for glue that calls Java from below a
/// pool call (region listeners, budget charges): the thread that grows or
/// trims a pool is a Java thread inside a JNI call, or a native thread.
#pragma once

#include <jni.h>

namespace nativepool::jni {

/// This thread's JNIEnv, attaching a native thread as a daemon (it must not
/// keep the JVM from exiting); null when the JVM refuses.
inline JNIEnv* current_env(JavaVM* vm) noexcept {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_10) == JNI_OK) return env;
  return vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env), nullptr) == JNI_OK ? env : nullptr;
}

}  // namespace nativepool::jni
