// SPDX-License-Identifier: Apache-2.0
/// @file jni_registration.hpp
/// @brief Each JNI area registers its own natives; JNI_OnLoad calls them all.
#pragma once

#include <jni.h>

namespace nativepool::jni {

/// Binds @p count methods to @p class_name; false with an exception pending
/// when the class or a method is missing (a JAR/library mismatch).
[[nodiscard]] bool register_natives(JNIEnv* env, const char* class_name, const JNINativeMethod* methods,
                                    int count) noexcept;

[[nodiscard]] bool register_pool_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_feature_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_gpu_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_safety_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_cache_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_numa_natives(JNIEnv* env) noexcept;

}  // namespace nativepool::jni
