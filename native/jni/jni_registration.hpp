// SPDX-License-Identifier: Apache-2.0
/// @file jni_registration.hpp
/// @brief Each JNI area registers its own natives; JNI_OnLoad calls them all.
#pragma once

#include <jni.h>

#include "nativepool/pool.hpp"

#include <cstddef>

/// One entry of a RegisterNatives table, the one way every glue file names
/// its natives: Java method @p name of the class whose mangled JNI name is
/// @p cls (e.g. org_nativepool_internal_PoolNative), bound to the function
/// `Java_<cls>_<name>` that the javac -h header declares, with @p signature.
#define NATIVEPOOL_NATIVE(cls, name, signature)                                \
  JNINativeMethod {                                                            \
    const_cast<char*>(#name), const_cast<char*>(signature),                    \
        reinterpret_cast<void*>(&Java_##cls##_##name)                          \
  }

namespace nativepool::jni {

/// Binds @p count methods to @p class_name; false with an exception pending
/// when the class or a method is missing (a JAR/library mismatch).
[[nodiscard]] bool register_natives(JNIEnv* env, const char* class_name, const JNINativeMethod* methods,
                                    int count) noexcept;

/// Binds a whole table of NATIVEPOOL_NATIVE entries to @p class_name.
template <std::size_t N>
[[nodiscard]] bool register_natives(JNIEnv* env, const char* class_name, const JNINativeMethod (&methods)[N]) noexcept {
  return register_natives(env, class_name, methods, static_cast<int>(N));
}

[[nodiscard]] bool register_pool_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_feature_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_gpu_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_safety_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_cache_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_numa_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_persistent_natives(JNIEnv* env) noexcept;
[[nodiscard]] bool register_plugin_natives(JNIEnv* env) noexcept;

/// Writes @p stats into @p out in the order of org.nativepool.PoolStats'
/// field indices (shared by the pool and the NUMA areas).
void store_stats(JNIEnv* env, const PoolStats& stats, jlongArray out) noexcept;

/// @p snapshot as org.nativepool.internal.PoolNative.snapshot returns it:
/// {long[] regions, long[] runs, String[] sites}, or null with an exception
/// pending (shared by the pool and GPU areas).
[[nodiscard]] jobjectArray snapshot_to_java(JNIEnv* env, const MemorySnapshot& snapshot) noexcept;

}  // namespace nativepool::jni
