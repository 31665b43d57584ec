// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.PluginNative: loading backend plugins
// (registered once per path and options, like NUMA specs), their per-region
// keys and exports, and region listeners written in Java.
#include <jni.h>

#include <cstdint>
#include <new>
#include <string>

#include "jni_env.hpp"
#include "jni_errors.hpp"
#include "jni_region_events.hpp"
#include "jni_registration.hpp"
#include "nativepool/backends.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_PluginNative.h"
#endif

namespace {

using nativepool::Status;

void throw_status(JNIEnv* env, Status status) noexcept { nativepool::jni::throw_status(env, status, nullptr, 0); }

// A Java string as UTF-8, or false with an exception pending.
bool utf8(JNIEnv* env, jstring text, const char* what, std::string* out) {
  if (text == nullptr) {
    nativepool::jni::throw_invalid_argument(env, what);
    return false;
  }
  const char* chars = env->GetStringUTFChars(text, nullptr);
  if (chars == nullptr) return false;  // OutOfMemoryError is pending
  out->assign(chars);
  env->ReleaseStringUTFChars(text, chars);
  return true;
}

bool plugin(JNIEnv* env, jint id, std::shared_ptr<nativepool::PluginBackend>* out) noexcept {
  if (const Status status = nativepool::registered_plugin(id, out); status != Status::kOk) {
    throw_status(env, status);
    return false;
  }
  return true;
}

const void* as_address(jlong address) noexcept {
  return reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address));
}

jlongArray to_java(JNIEnv* env, std::initializer_list<jlong> values) noexcept {
  jlongArray array = env->NewLongArray(static_cast<jsize>(values.size()));
  if (array != nullptr) env->SetLongArrayRegion(array, 0, static_cast<jsize>(values.size()), values.begin());
  return array;
}

// Calls org.nativepool.RegionListener as JavaRegionCalls says: on the thread
// that grows or trims the pool, what it throws printed and dropped.
class JavaRegionListener final : public nativepool::jni::JavaRegionCalls {
 public:
  JavaRegionListener(JavaVM* vm, jobject listener, jmethodID mapped, jmethodID unmapped) noexcept
      : JavaRegionCalls(vm), listener_(listener), mapped_(mapped), unmapped_(unmapped) {}
  // The global reference is never deleted: registered listeners live as long as the process.

  void call(JNIEnv* env, bool mapped, void* region, std::size_t size) const noexcept override {
    env->CallVoidMethod(listener_, mapped ? mapped_ : unmapped_,
                        static_cast<jlong>(reinterpret_cast<std::uintptr_t>(region)), static_cast<jlong>(size));
  }

 private:
  jobject listener_;
  jmethodID mapped_;
  jmethodID unmapped_;
};

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL Java_org_nativepool_internal_PluginNative_register(JNIEnv* env, jclass, jstring path,
                                                                         jobjectArray keys, jobjectArray values) {
  if (!nativepool::jni::check_array(env, keys, 0, "option keys")) return -1;
  const jsize count = env->GetArrayLength(keys);
  if (!nativepool::jni::check_array(env, values, count, "option values")) return -1;
  try {
    std::string file;
    if (!utf8(env, path, "the plugin path is null", &file)) return -1;
    nativepool::PluginOptions options;
    for (jsize i = 0; i < count; ++i) {
      auto key = static_cast<jstring>(env->GetObjectArrayElement(keys, i));
      auto value = static_cast<jstring>(env->GetObjectArrayElement(values, i));
      std::string k, v;
      const bool ok = utf8(env, key, "an option key is null", &k) && utf8(env, value, "an option value is null", &v);
      env->DeleteLocalRef(key);
      env->DeleteLocalRef(value);
      if (!ok) return -1;
      options.emplace_back(std::move(k), std::move(v));
    }
    int id = -1;
    if (const Status status = nativepool::register_plugin(file, options, &id); status != Status::kOk) {
      throw_status(env, status);
    }
    return id;
  } catch (const std::bad_alloc&) {
    throw_status(env, nativepool::fail(Status::kInternal, "out of host memory for a plugin"));
    return -1;
  }
}

// [name, description, canonical path, ABI minor]
JNIEXPORT jobjectArray JNICALL Java_org_nativepool_internal_PluginNative_describe(JNIEnv* env, jclass, jint id) {
  std::shared_ptr<nativepool::PluginBackend> backend;
  if (!plugin(env, id, &backend)) return nullptr;
  jclass string_class = env->FindClass("java/lang/String");
  if (string_class == nullptr) return nullptr;
  jobjectArray out = env->NewObjectArray(4, string_class, nullptr);
  env->DeleteLocalRef(string_class);
  if (out == nullptr) return nullptr;
  const std::string minor = std::to_string(backend->abi_minor());
  const std::string name(backend->name());
  const char* fields[] = {name.c_str(), backend->description().c_str(), backend->path().c_str(), minor.c_str()};
  for (jsize i = 0; i < 4; ++i) {
    jstring text = env->NewStringUTF(fields[i]);
    if (text == nullptr) return nullptr;
    env->SetObjectArrayElement(out, i, text);
    env->DeleteLocalRef(text);
  }
  return out;
}

// [local key, remote key]
JNIEXPORT jlongArray JNICALL Java_org_nativepool_internal_PluginNative_keys(JNIEnv* env, jclass, jint id,
                                                                           jlong address) {
  std::shared_ptr<nativepool::PluginBackend> backend;
  if (!plugin(env, id, &backend)) return nullptr;
  nativepool_plugin_keys keys{};
  if (const Status status = backend->keys(as_address(address), &keys); status != Status::kOk) {
    throw_status(env, status);
    return nullptr;
  }
  return to_java(env, {static_cast<jlong>(keys.local_key), static_cast<jlong>(keys.remote_key)});
}

// [fd, offset of the region in the file, length of the region, offset of the address in the region]
JNIEXPORT jlongArray JNICALL Java_org_nativepool_internal_PluginNative_exportRegion(JNIEnv* env, jclass, jint id,
                                                                             jlong address) {
  std::shared_ptr<nativepool::PluginBackend> backend;
  if (!plugin(env, id, &backend)) return nullptr;
  nativepool_plugin_export shared{};
  std::size_t offset = 0;
  if (const Status status = backend->export_region(as_address(address), &shared, &offset); status != Status::kOk) {
    throw_status(env, status);
    return nullptr;
  }
  return to_java(env, {shared.fd, static_cast<jlong>(shared.offset), static_cast<jlong>(shared.length),
                       static_cast<jlong>(offset)});
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_PluginNative_listen(JNIEnv* env, jclass, jint type,
                                                                       jint parameter, jobject listener) {
  if (listener == nullptr) {
    nativepool::jni::throw_invalid_argument(env, "the region listener is null");
    return -1;
  }
  JavaVM* vm = nullptr;
  jclass cls = env->GetObjectClass(listener);
  const jmethodID mapped = env->GetMethodID(cls, "mapped", "(JJ)V");
  const jmethodID unmapped = mapped != nullptr ? env->GetMethodID(cls, "unmapped", "(JJ)V") : nullptr;
  env->DeleteLocalRef(cls);
  if (unmapped == nullptr || env->GetJavaVM(&vm) != JNI_OK) return -1;  // NoSuchMethodError is pending
  jobject global = env->NewGlobalRef(listener);
  if (global == nullptr) return -1;
  auto adapter = std::shared_ptr<nativepool::RegionListener>(
      new (std::nothrow) JavaRegionListener(vm, global, mapped, unmapped));
  int id = -1;
  const Status status = adapter == nullptr
                            ? nativepool::fail(Status::kInternal, "out of host memory for a region listener")
                            : nativepool::register_listener(static_cast<nativepool::BackendType>(type), parameter,
                                                            std::move(adapter), &id);
  if (status != Status::kOk) {
    env->DeleteGlobalRef(global);
    throw_status(env, status);
  }
  return id;
}

}  // extern "C"

namespace nativepool::jni {

bool register_plugin_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_PluginNative, register,
                        "(Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;)I"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PluginNative, describe, "(I)[Ljava/lang/String;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PluginNative, keys, "(IJ)[J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PluginNative, exportRegion, "(IJ)[J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PluginNative, listen, "(IILorg/nativepool/RegionListener;)I"),
  };
  return register_natives(env, "org/nativepool/internal/PluginNative", methods);
}

}  // namespace nativepool::jni
