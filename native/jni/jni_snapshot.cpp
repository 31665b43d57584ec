// SPDX-License-Identifier: Apache-2.0
// A MemorySnapshot as the arrays org.nativepool.MemorySnapshot is built
// from: the pool and GPU areas both hand their snapshots over through it.
#include <jni.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "jni_errors.hpp"
#include "jni_registration.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_PoolNative.h"
#endif

namespace nativepool::jni {
namespace {

// Declared once, in PoolNative, and checked against the javac -h header.
constexpr std::size_t kRegionFields = 4;
constexpr std::size_t kRunFields = 7;
#ifdef NATIVEPOOL_HAVE_JAVAH
static_assert(kRegionFields == org_nativepool_internal_PoolNative_SNAPSHOT_REGION_FIELDS);
static_assert(kRunFields == org_nativepool_internal_PoolNative_SNAPSHOT_RUN_FIELDS);
#endif

jlongArray to_array(JNIEnv* env, const std::vector<jlong>& values) noexcept {
  jlongArray array = env->NewLongArray(static_cast<jsize>(values.size()));
  if (array != nullptr) env->SetLongArrayRegion(array, 0, static_cast<jsize>(values.size()), values.data());
  return array;
}

}  // namespace

jobjectArray snapshot_to_java(JNIEnv* env, const MemorySnapshot& snapshot) noexcept try {
  // A Java array holds at most 2^31 - 1 elements.
  if (snapshot.runs.size() > INT32_MAX / kRunFields) {
    throw_invalid_argument(env, "the pool has too many blocks for one snapshot");
    return nullptr;
  }
  std::vector<jlong> regions;
  regions.reserve(snapshot.regions.size() * kRegionFields);
  for (const SnapshotRegion& r : snapshot.regions) {
    regions.insert(regions.end(), {static_cast<jlong>(r.base), static_cast<jlong>(r.size),
                                   static_cast<jlong>(r.first), static_cast<jlong>(r.count)});
  }
  // Sites are interned strings: one Java string each, however many blocks share it.
  std::unordered_map<const char*, jlong> site_index;
  std::vector<const char*> sites;
  std::vector<jlong> runs;
  runs.reserve(snapshot.runs.size() * kRunFields);
  for (const SnapshotRun& run : snapshot.runs) {
    jlong site = -1;
    if (run.site != nullptr) {
      const auto [it, added] = site_index.try_emplace(run.site, static_cast<jlong>(sites.size()));
      if (added) sites.push_back(run.site);
      site = it->second;
    }
    runs.insert(runs.end(), {static_cast<jlong>(run.offset), static_cast<jlong>(run.size),
                             static_cast<jlong>(run.count), static_cast<jlong>(run.requested), run.age_ns,
                             static_cast<jlong>(run.state), site});
  }
  jclass string_class = env->FindClass("java/lang/String");
  jclass object_class = env->FindClass("java/lang/Object");
  if (string_class == nullptr || object_class == nullptr) return nullptr;
  jobjectArray names = env->NewObjectArray(static_cast<jsize>(sites.size()), string_class, nullptr);
  if (names == nullptr) return nullptr;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    jstring name = env->NewStringUTF(sites[i]);
    if (name == nullptr) return nullptr;
    env->SetObjectArrayElement(names, static_cast<jsize>(i), name);
    env->DeleteLocalRef(name);
  }
  jlongArray region_array = to_array(env, regions);
  jlongArray run_array = region_array != nullptr ? to_array(env, runs) : nullptr;
  jobjectArray result = run_array != nullptr ? env->NewObjectArray(3, object_class, nullptr) : nullptr;
  if (result == nullptr) return nullptr;
  env->SetObjectArrayElement(result, 0, region_array);
  env->SetObjectArrayElement(result, 1, run_array);
  env->SetObjectArrayElement(result, 2, names);
  return result;
} catch (const std::bad_alloc&) {
  throw_status(env, fail(Status::kInternal, "out of host memory for the snapshot's arrays"), nullptr, 0);
  return nullptr;
}

}  // namespace nativepool::jni
