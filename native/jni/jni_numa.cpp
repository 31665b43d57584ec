// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.NumaNative: topology, backend specs,
// placement queries and node-local pools' per-node stats, each flattened
// into an array that the Java records read.
#include <jni.h>

#include <cstdint>
#include <iterator>
#include <new>
#include <vector>

#include "jni_errors.hpp"
#include "jni_regions.hpp"
#include "jni_registration.hpp"
#include "nativepool/backends.hpp"
#include "nativepool/node_local_pool.hpp"
#include "nativepool/numa.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_NumaNative.h"
#endif

namespace {

using nativepool::Status;

void throw_status(JNIEnv* env, Status status) noexcept { nativepool::jni::throw_status(env, status, nullptr, 0); }

jlongArray to_java(JNIEnv* env, const std::vector<jlong>& values) noexcept {
  jlongArray array = env->NewLongArray(static_cast<jsize>(values.size()));
  if (array != nullptr) env->SetLongArrayRegion(array, 0, static_cast<jsize>(values.size()), values.data());
  return array;  // null with OutOfMemoryError pending
}

}  // namespace

extern "C" {

// [node count, current node, then per node: id, total, free, cpu count,
//  cpus..., one distance per node]
JNIEXPORT jlongArray JNICALL Java_org_nativepool_internal_NumaNative_topology(JNIEnv* env, jclass) {
  nativepool::NumaTopology topology;
  if (const Status status = nativepool::numa_topology(&topology); status != Status::kOk) {
    throw_status(env, status);
    return nullptr;
  }
  try {
    std::vector<jlong> flat{static_cast<jlong>(topology.nodes.size()), topology.current_node};
    for (const nativepool::NumaNode& node : topology.nodes) {
      flat.insert(flat.end(), {node.id, node.total_bytes, node.free_bytes, static_cast<jlong>(node.cpus.size())});
      flat.insert(flat.end(), node.cpus.begin(), node.cpus.end());
      flat.insert(flat.end(), node.distances.begin(), node.distances.end());
    }
    return to_java(env, flat);
  } catch (const std::bad_alloc&) {
    throw_status(env, nativepool::fail(Status::kInternal, "out of host memory for the NUMA topology"));
    return nullptr;
  }
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_NumaNative_registerSpec(JNIEnv* env, jclass, jint policy,
                                                                           jintArray nodes) {
  if (!nativepool::jni::check_array(env, nodes, 0, "node array")) return -1;
  try {
    nativepool::NumaSpec spec;
    spec.policy = static_cast<nativepool::NumaPolicy>(policy);
    spec.nodes.resize(static_cast<std::size_t>(env->GetArrayLength(nodes)));
    env->GetIntArrayRegion(nodes, 0, static_cast<jsize>(spec.nodes.size()), spec.nodes.data());
    int id = -1;
    if (const Status status = nativepool::register_numa_spec(std::move(spec), &id); status != Status::kOk) {
      throw_status(env, status);
    }
    return id;
  } catch (const std::bad_alloc&) {
    throw_status(env, nativepool::fail(Status::kInternal, "out of host memory for a NUMA backend"));
    return -1;
  }
}

// [page size, pages not present, then pages on node 0, 1, ... up to the highest node]
JNIEXPORT jlongArray JNICALL Java_org_nativepool_internal_NumaNative_placement(JNIEnv* env, jclass, jlong address,
                                                                              jlong bytes) {
  std::size_t length = 0;
  if (!nativepool::jni::to_size(env, bytes, "bytes", &length)) return nullptr;
  nativepool::NumaPlacement placement;
  const Status status =
      nativepool::numa_placement(reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address)), length, &placement);
  if (status != Status::kOk) {
    throw_status(env, status);
    return nullptr;
  }
  try {
    std::vector<jlong> flat{static_cast<jlong>(placement.page_size), static_cast<jlong>(placement.not_present)};
    flat.insert(flat.end(), placement.pages_on_node.begin(), placement.pages_on_node.end());
    return to_java(env, flat);
  } catch (const std::bad_alloc&) {
    throw_status(env, nativepool::fail(Status::kInternal, "out of host memory for a NUMA placement"));
    return nullptr;
  }
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_NumaNative_nodeStats(JNIEnv* env, jclass, jlong handle, jint node,
                                                                        jlongArray out) {
  const nativepool::Pool* pool = nativepool::jni::find_pool(env, handle);
  if (pool == nullptr) return;
  const auto* group = dynamic_cast<const nativepool::NodeLocalPool*>(pool);
  if (group == nullptr) {
    throw_status(env, nativepool::fail(Status::kInvalidArgument,
                                       "%s has one node: only pools over Backend.nodeLocal() have per-node stats",
                                       pool->info().backend.c_str()));
    return;
  }
  nativepool::PoolStats stats;
  if (const Status status = group->node_stats(node, &stats); status != Status::kOk) {
    throw_status(env, status);
    return;
  }
  nativepool::jni::store_stats(env, stats, out);
}

JNIEXPORT jintArray JNICALL Java_org_nativepool_internal_NumaNative_poolNodes(JNIEnv* env, jclass, jlong handle) {
  const nativepool::Pool* pool = nativepool::jni::find_pool(env, handle);
  if (pool == nullptr) return nullptr;
  const auto* group = dynamic_cast<const nativepool::NodeLocalPool*>(pool);
  const std::vector<int> none;
  const std::vector<int>& nodes = group != nullptr ? group->nodes() : none;
  jintArray array = env->NewIntArray(static_cast<jsize>(nodes.size()));
  if (array != nullptr) env->SetIntArrayRegion(array, 0, static_cast<jsize>(nodes.size()), nodes.data());
  return array;
}

}  // extern "C"

namespace nativepool::jni {

bool register_numa_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_NumaNative, topology, "()[J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_NumaNative, registerSpec, "(I[I)I"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_NumaNative, placement, "(JJ)[J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_NumaNative, nodeStats, "(JI[J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_NumaNative, poolNodes, "(J)[I"),
  };
  return register_natives(env, "org/nativepool/internal/NumaNative", methods);
}

}  // namespace nativepool::jni
