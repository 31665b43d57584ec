// SPDX-License-Identifier: Apache-2.0
#include "jni_errors.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "nativepool/gpu/device_error.hpp"
#include "nativepool/safety/corruption.hpp"

namespace nativepool::jni {
namespace {

struct ExceptionClasses {
  jclass base = nullptr;
  jclass invalid_argument = nullptr;
  jclass out_of_pool_memory = nullptr;
  jmethodID out_of_pool_memory_init = nullptr;
  jclass invalid_free = nullptr;
  jclass double_free = nullptr;
  jclass feature_unavailable = nullptr;
  jclass corrupted = nullptr;
  jclass no_device = nullptr;
  jclass cuda = nullptr;
  jmethodID cuda_init = nullptr;
  jclass memory_corruption = nullptr;
  jmethodID memory_corruption_init = nullptr;
  jmethodID init_cause = nullptr;  // Throwable.initCause
  // Persistent heap files (PersistentPool).
  jclass persistent_file = nullptr;
  jclass not_a_pool = nullptr;
  jclass truncated = nullptr;
  jclass version_mismatch = nullptr;
  jclass checksum_mismatch = nullptr;
  jclass already_open = nullptr;
  jclass plugin_not_found = nullptr;
  jclass plugin_symbol_missing = nullptr;
  jclass plugin_abi = nullptr;
  jclass plugin_option = nullptr;
  jclass plugin_fault = nullptr;
};

ExceptionClasses g_classes;

jclass pin(JNIEnv* env, const char* name) noexcept {
  jclass local = env->FindClass(name);
  if (local == nullptr) return nullptr;
  auto global = static_cast<jclass>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return global;
}

jclass class_for(Status status) noexcept {
  switch (status) {
    case Status::kInvalidArgument: return g_classes.invalid_argument;
    case Status::kOutOfPoolMemory: return g_classes.out_of_pool_memory;
    case Status::kInvalidFree: return g_classes.invalid_free;
    case Status::kDoubleFree: return g_classes.double_free;
    case Status::kFeatureUnavailable: return g_classes.feature_unavailable;
    case Status::kCorrupted: return g_classes.corrupted;
    case Status::kNoDevice: return g_classes.no_device;
    case Status::kDeviceError: return g_classes.cuda;
    case Status::kMemoryCorrupted: return g_classes.memory_corruption;
    case Status::kNotAPool: return g_classes.not_a_pool;
    case Status::kTruncated: return g_classes.truncated;
    case Status::kVersionMismatch: return g_classes.version_mismatch;
    case Status::kChecksumMismatch: return g_classes.checksum_mismatch;
    case Status::kAlreadyOpen: return g_classes.already_open;
    case Status::kIoError: return g_classes.persistent_file;
    case Status::kPluginNotFound: return g_classes.plugin_not_found;
    case Status::kPluginSymbolMissing: return g_classes.plugin_symbol_missing;
    case Status::kPluginAbiMismatch: return g_classes.plugin_abi;
    case Status::kPluginOptionError: return g_classes.plugin_option;
    case Status::kPluginFault: return g_classes.plugin_fault;
    case Status::kOk:
    case Status::kInternal: break;
  }
  return g_classes.base;
}

// CudaException carries the failed call and the CUDA error as fields, so
// callers can branch on them without parsing the message.
jthrowable make_cuda(JNIEnv* env, const char* message) noexcept {
  const gpu::DeviceError error = gpu::last_device_error();
  jstring text = env->NewStringUTF(message);
  jstring name = env->NewStringUTF(error.name);
  jstring call = env->NewStringUTF(error.call);
  if (text == nullptr || name == nullptr || call == nullptr) return nullptr;  // OutOfMemoryError is pending
  return static_cast<jthrowable>(
      env->NewObject(g_classes.cuda, g_classes.cuda_init, text, name, static_cast<jint>(error.code), call));
}

void throw_cuda(JNIEnv* env, const char* message) noexcept {
  if (jthrowable exception = make_cuda(env, message); exception != nullptr) env->Throw(exception);
}

// A pool that cannot grow because the CUDA runtime refused memory names the
// failed call in its message (device_fail's "<call> failed: <name>"); the
// same error, structured, becomes the exception's cause.
void attach_device_cause(JNIEnv* env, jthrowable exception, const char* message) noexcept {
  const gpu::DeviceError error = gpu::last_device_error();
  if (error.code == 0) return;
  char pattern[160];
  std::snprintf(pattern, sizeof pattern, "%s failed: %s", error.call, error.name);
  if (std::strstr(message, pattern) == nullptr) return;  // an older, unrelated device error
  if (jthrowable cause = make_cuda(env, message); cause != nullptr) {
    env->CallObjectMethod(exception, g_classes.init_cause, cause);
  }
}

void throw_out_of_pool_memory(JNIEnv* env, const Fragmentation& free_space, std::size_t requested,
                              const char* message) noexcept {
  jstring text = env->NewStringUTF(message);
  if (text == nullptr) return;  // OutOfMemoryError is pending
  auto exception = static_cast<jthrowable>(env->NewObject(
      g_classes.out_of_pool_memory, g_classes.out_of_pool_memory_init, text, static_cast<jlong>(requested),
      static_cast<jlong>(free_space.free_bytes), static_cast<jlong>(free_space.largest_free_block),
      static_cast<jlong>(free_space.free_blocks), free_space.external_fragmentation));
  if (exception == nullptr) return;
  attach_device_cause(env, exception, message);
  if (!env->ExceptionCheck()) env->Throw(exception);
}

// The report's fields become the exception's, so callers need not parse text.
void throw_memory_corruption(JNIEnv* env, const char* message) noexcept {
  const CorruptionReport& report = last_corruption();
  jstring text = env->NewStringUTF(message);
  if (text == nullptr) return;
  jstring site = report.site != nullptr ? env->NewStringUTF(report.site) : nullptr;
  if (report.site != nullptr && site == nullptr) return;
  auto exception = static_cast<jthrowable>(env->NewObject(
      g_classes.memory_corruption, g_classes.memory_corruption_init, text, static_cast<jlong>(report.block),
      static_cast<jlong>(report.size), static_cast<jint>(report.guard), static_cast<jlong>(report.offset), site));
  if (exception != nullptr) env->Throw(exception);
}

}  // namespace

bool cache_exception_classes(JNIEnv* env) noexcept {
  g_classes.base = pin(env, "org/nativepool/NativePoolException");
  g_classes.invalid_argument = pin(env, "org/nativepool/InvalidArgumentException");
  g_classes.out_of_pool_memory = pin(env, "org/nativepool/OutOfPoolMemoryException");
  g_classes.invalid_free = pin(env, "org/nativepool/InvalidFreeException");
  g_classes.double_free = pin(env, "org/nativepool/DoubleFreeException");
  g_classes.feature_unavailable = pin(env, "org/nativepool/FeatureUnavailableException");
  g_classes.corrupted = pin(env, "org/nativepool/PoolCorruptedException");
  g_classes.no_device = pin(env, "org/nativepool/gpu/NoCudaDeviceException");
  g_classes.cuda = pin(env, "org/nativepool/gpu/CudaException");
  if (g_classes.cuda != nullptr) {
    g_classes.cuda_init =
        env->GetMethodID(g_classes.cuda, "<init>", "(Ljava/lang/String;Ljava/lang/String;ILjava/lang/String;)V");
  }
  g_classes.memory_corruption = pin(env, "org/nativepool/MemoryCorruptionException");
  g_classes.plugin_not_found = pin(env, "org/nativepool/PluginNotFoundException");
  g_classes.plugin_symbol_missing = pin(env, "org/nativepool/PluginSymbolMissingException");
  g_classes.plugin_abi = pin(env, "org/nativepool/PluginAbiException");
  g_classes.plugin_option = pin(env, "org/nativepool/PluginOptionException");
  g_classes.plugin_fault = pin(env, "org/nativepool/PluginFaultException");
  if (jclass throwable = env->FindClass("java/lang/Throwable"); throwable != nullptr) {
    g_classes.init_cause = env->GetMethodID(throwable, "initCause", "(Ljava/lang/Throwable;)Ljava/lang/Throwable;");
    env->DeleteLocalRef(throwable);
  }
  if (g_classes.out_of_pool_memory != nullptr) {
    g_classes.out_of_pool_memory_init =
        env->GetMethodID(g_classes.out_of_pool_memory, "<init>", "(Ljava/lang/String;JJJJD)V");
  }
  if (g_classes.memory_corruption != nullptr) {
    g_classes.memory_corruption_init =
        env->GetMethodID(g_classes.memory_corruption, "<init>", "(Ljava/lang/String;JJIJLjava/lang/String;)V");
  }
  g_classes.persistent_file = pin(env, "org/nativepool/PersistentFileException");
  g_classes.not_a_pool = pin(env, "org/nativepool/NotAPoolException");
  g_classes.truncated = pin(env, "org/nativepool/PoolTruncatedException");
  g_classes.version_mismatch = pin(env, "org/nativepool/PoolVersionException");
  g_classes.checksum_mismatch = pin(env, "org/nativepool/ChecksumMismatchException");
  g_classes.already_open = pin(env, "org/nativepool/PoolAlreadyOpenException");
  const bool persistent = g_classes.persistent_file && g_classes.not_a_pool && g_classes.truncated &&
                          g_classes.version_mismatch && g_classes.checksum_mismatch && g_classes.already_open;
  return persistent && g_classes.base && g_classes.invalid_argument && g_classes.out_of_pool_memory_init &&
         g_classes.invalid_free && g_classes.double_free && g_classes.feature_unavailable && g_classes.corrupted &&
         g_classes.no_device && g_classes.cuda_init && g_classes.memory_corruption_init && g_classes.init_cause &&
         g_classes.plugin_not_found && g_classes.plugin_symbol_missing && g_classes.plugin_abi &&
         g_classes.plugin_option && g_classes.plugin_fault;
}

void release_exception_classes(JNIEnv* env) noexcept {
  for (jclass cls : {g_classes.base, g_classes.invalid_argument, g_classes.out_of_pool_memory,
                     g_classes.invalid_free, g_classes.double_free, g_classes.feature_unavailable,
                     g_classes.corrupted, g_classes.no_device, g_classes.cuda, g_classes.memory_corruption,
                     g_classes.persistent_file, g_classes.not_a_pool, g_classes.truncated, g_classes.version_mismatch,
                     g_classes.checksum_mismatch, g_classes.already_open,
                     g_classes.plugin_not_found, g_classes.plugin_symbol_missing, g_classes.plugin_abi,
                     g_classes.plugin_option, g_classes.plugin_fault}) {
    if (cls != nullptr) env->DeleteGlobalRef(cls);
  }
  g_classes = {};
}

void throw_status(JNIEnv* env, Status status, const Fragmentation& free_space, std::size_t requested) noexcept {
  char message[640];
  const char* detail = error_detail();
  std::snprintf(message, sizeof message, "%s", detail[0] != '\0' ? detail : status_name(status));
  clear_error_detail();
  if (status == Status::kOutOfPoolMemory) {
    throw_out_of_pool_memory(env, free_space, requested, message);
    return;
  }
  if (status == Status::kDeviceError) {
    throw_cuda(env, message);
    return;
  }
  if (status == Status::kMemoryCorrupted) {
    throw_memory_corruption(env, message);
    return;
  }
  env->ThrowNew(class_for(status), message);
}

void throw_status(JNIEnv* env, Status status, const Pool* pool, std::size_t requested) noexcept {
  // Without a pool (it failed to be built) the free space is simply none.
  const bool has_figures = status == Status::kOutOfPoolMemory && pool != nullptr;
  throw_status(env, status, has_figures ? pool->stats().fragmentation : Fragmentation{}, requested);
}

void throw_invalid_argument(JNIEnv* env, const char* message) noexcept {
  env->ThrowNew(g_classes.invalid_argument, message);
}

bool to_size(JNIEnv* env, jlong value, const char* what, std::size_t* out) noexcept {
  if (value < 0) [[unlikely]] {
    char message[160];
    std::snprintf(message, sizeof message, "%s must not be negative, got %" PRId64, what,
                  static_cast<std::int64_t>(value));
    throw_invalid_argument(env, message);
    return false;
  }
  *out = static_cast<std::size_t>(value);
  return true;
}

bool check_array(JNIEnv* env, jarray array, jlong needed, const char* what) noexcept {
  char message[160];
  if (array == nullptr) [[unlikely]] {
    std::snprintf(message, sizeof message, "%s is null", what);
  } else if (const jsize length = env->GetArrayLength(array); length < needed) [[unlikely]] {
    std::snprintf(message, sizeof message, "%s has %" PRId32 " elements, needs %" PRId64, what,
                  static_cast<std::int32_t>(length), static_cast<std::int64_t>(needed));
  } else {
    return true;
  }
  throw_invalid_argument(env, message);
  return false;
}

}  // namespace nativepool::jni
