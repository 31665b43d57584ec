// SPDX-License-Identifier: Apache-2.0
// The floor of the JNI benchmarks: natives that do nothing, with the
// signatures of PoolNative.allocate and PoolNative.free, so that an
// allocation + free pair through JNI can be read as "x the floor".
#include <jni.h>

JNIEXPORT jlong JNICALL Java_org_nativepool_bench_Floor_allocate(JNIEnv* env, jclass cls, jlong pool, jlong size,
                                                                 jlong alignment) {
  (void)env;
  (void)cls;
  (void)alignment;
  return pool + size;
}

JNIEXPORT void JNICALL Java_org_nativepool_bench_Floor_free(JNIEnv* env, jclass cls, jlong pool, jlong address) {
  (void)env;
  (void)cls;
  (void)pool;
  (void)address;
}
