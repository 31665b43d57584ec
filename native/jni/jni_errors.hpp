// SPDX-License-Identifier: Apache-2.0
/// @file jni_errors.hpp
/// @brief Turns nativepool Status codes into the exceptions of org.nativepool.
#pragma once

#include <jni.h>

#include <cstddef>

#include "nativepool/pool.hpp"
#include "nativepool/status.hpp"

namespace nativepool::jni {

/// Looks up and pins the exception classes. Called once from JNI_OnLoad.
[[nodiscard]] bool cache_exception_classes(JNIEnv* env) noexcept;
void release_exception_classes(JNIEnv* env) noexcept;

/// Throws the exception for @p status, with this thread's error detail as the
/// message. For kOutOfPoolMemory the exception also carries the pool's free
/// space figures, read from @p pool.
void throw_status(JNIEnv* env, Status status, const Pool* pool, std::size_t requested) noexcept;

/// Like the above, for callers that hold the free-space figures rather than
/// a Pool (the stream-ordered device pools).
void throw_status(JNIEnv* env, Status status, const Fragmentation& free_space, std::size_t requested) noexcept;

/// Throws org.nativepool.InvalidArgumentException with @p message.
void throw_invalid_argument(JNIEnv* env, const char* message) noexcept;

/// Reads a Java long that must be a size: false (and an exception pending)
/// when it is negative.
[[nodiscard]] bool to_size(JNIEnv* env, jlong value, const char* what, std::size_t* out) noexcept;

/// Checks a Java array before native code reads or writes it: false (and an
/// InvalidArgumentException pending, naming @p what) when it is null or holds
/// fewer than @p needed elements.
[[nodiscard]] bool check_array(JNIEnv* env, jarray array, jlong needed, const char* what) noexcept;

}  // namespace nativepool::jni
