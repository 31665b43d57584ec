// SPDX-License-Identifier: Apache-2.0
// JNI glue of org.nativepool.internal.PersistentNative: converts arguments,
// calls PersistentHeap, maps failures to exceptions. The heap checks every
// offset, range and destination itself.
#include <jni.h>

#include <functional>
#include <iterator>
#include <memory>
#include <string>

#include "jni_errors.hpp"
#include "jni_handles.hpp"
#include "jni_registration.hpp"
#include "nativepool/persistent_heap.hpp"

#ifdef NATIVEPOOL_HAVE_JAVAH
#include "org_nativepool_internal_PersistentNative.h"
#endif

namespace {

using nativepool::PersistentHeap;
using nativepool::jni::HandleKind;
using nativepool::Status;

constexpr jint kStatsFields = 14;
#ifdef NATIVEPOOL_HAVE_JAVAH
static_assert(kStatsFields == org_nativepool_internal_PersistentNative_STATS_FIELDS);
#endif

// Heaps cross JNI as handle-table tokens (jni_handles.hpp): a bogus, closed
// or other kind of handle is an exception, and null comes back.
PersistentHeap* find_heap(JNIEnv* env, jlong handle) noexcept {
  return nativepool::jni::find<PersistentHeap>(env, handle, HandleKind::kPersistent);
}

// Negative longs never reach the heap as huge unsigned values.
bool to_u64(JNIEnv* env, jlong value, const char* what, std::uint64_t* out) noexcept {
  std::size_t size = 0;
  if (!nativepool::jni::to_size(env, value, what, &size)) return false;
  *out = size;
  return true;
}

// A range of a block, as persist() and snapshot() take it.
struct Range {
  std::uint64_t block = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

bool to_range(JNIEnv* env, jlong block, jlong offset, jlong length, Range* out) noexcept {
  return to_u64(env, block, "block", &out->block) && to_u64(env, offset, "offset", &out->offset) &&
         to_u64(env, length, "length", &out->length);
}

bool check(JNIEnv* env, Status status) noexcept {
  if (status == Status::kOk) [[likely]] return true;
  nativepool::jni::throw_status(env, status, nativepool::Fragmentation{}, 0);
  return false;
}

// A Java string as a path: false with an exception pending for null.
bool to_path(JNIEnv* env, jstring path, std::string* out) noexcept {
  if (path == nullptr) {
    nativepool::jni::throw_invalid_argument(env, "path is null");
    return false;
  }
  const char* chars = env->GetStringUTFChars(path, nullptr);
  if (chars == nullptr) return false;  // OutOfMemoryError pending
  *out = chars;
  env->ReleaseStringUTFChars(path, chars);
  return true;
}

// The calls that take nothing but the heap: look it up, call, map the status.
template <class Call>
void on_heap(JNIEnv* env, jlong heap, Call call) noexcept {
  if (PersistentHeap* h = find_heap(env, heap); h != nullptr) (void)check(env, std::invoke(call, *h));
}

// free(), tx_free() and grow(): the heap, then one offset or size.
void on_offset(JNIEnv* env, jlong heap, jlong value, const char* what,
               Status (PersistentHeap::*call)(std::uint64_t) noexcept) noexcept {
  PersistentHeap* h = find_heap(env, heap);
  std::uint64_t offset = 0;
  if (h != nullptr && to_u64(env, value, what, &offset)) (void)check(env, (h->*call)(offset));
}

// persist() and snapshot(): the heap, then a range of a block.
void on_range(JNIEnv* env, jlong heap, jlong block, jlong offset, jlong length,
              Status (PersistentHeap::*call)(std::uint64_t, std::uint64_t, std::uint64_t) noexcept) noexcept {
  PersistentHeap* h = find_heap(env, heap);
  Range range;
  if (h != nullptr && to_range(env, block, offset, length, &range)) {
    (void)check(env, (h->*call)(range.block, range.offset, range.length));
  }
}

jlong to_handle(JNIEnv* env, std::unique_ptr<PersistentHeap> heap) noexcept {
  const jlong token = nativepool::jni::issue(env, HandleKind::kPersistent, heap.get());
  if (token != 0) (void)heap.release();  // the table's slot owns it until destroy()
  return token;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_create(JNIEnv* env, jclass, jstring path,
                                                                             jlong capacity, jlong undo_bytes,
                                                                             jboolean group_commit,
                                                                             jboolean force_msync,
                                                                             jlong max_capacity) {
  std::string file;
  nativepool::PersistentOptions options;
  if (!to_path(env, path, &file) || !to_u64(env, capacity, "capacity", &options.capacity) ||
      !to_u64(env, undo_bytes, "undo log bytes", &options.undo_log_bytes) ||
      !to_u64(env, max_capacity, "max capacity", &options.max_capacity)) {
    return 0;
  }
  options.group_commit = group_commit != JNI_FALSE;
  options.force_msync = force_msync != JNI_FALSE;
  std::unique_ptr<PersistentHeap> heap;
  if (!check(env, PersistentHeap::create(file.c_str(), options, &heap))) return 0;
  return to_handle(env, std::move(heap));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_open(JNIEnv* env, jclass, jstring path,
                                                                           jboolean group_commit,
                                                                           jboolean force_msync,
                                                                           jlong max_capacity) {
  std::string file;
  nativepool::PersistentOptions options;
  if (!to_path(env, path, &file) || !to_u64(env, max_capacity, "max capacity", &options.max_capacity)) return 0;
  options.group_commit = group_commit != JNI_FALSE;
  options.force_msync = force_msync != JNI_FALSE;
  std::unique_ptr<PersistentHeap> heap;
  if (!check(env, PersistentHeap::open(file.c_str(), options, &heap))) return 0;
  return to_handle(env, std::move(heap));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_destroy(JNIEnv* env, jclass, jlong heap) {
  void* object = nullptr;
  if (nativepool::jni::retire(env, heap, HandleKind::kPersistent, &object)) delete static_cast<PersistentHeap*>(object);
}

JNIEXPORT jobject JNICALL Java_org_nativepool_internal_PersistentNative_wrap(JNIEnv* env, jclass, jlong heap,
                                                                             jlong offset, jlong size) {
  PersistentHeap* h = find_heap(env, heap);
  std::uint64_t at = 0;
  std::uint64_t bytes = 0;
  if (h == nullptr || !to_u64(env, offset, "offset", &at) || !to_u64(env, size, "size", &bytes)) return nullptr;
  // Only a live or reserved block, and no more of it than it holds: the view
  // never reaches the heap's metadata or beyond the mapping (the current
  // one, taken under the heap's lock, so a grow in another thread is safe).
  void* address = bytes == 0 ? nullptr : h->view(at, bytes);
  if (address == nullptr) [[unlikely]] {
    nativepool::jni::throw_invalid_argument(env,
                                            "no view: offset is not a live or reserved block of at least size bytes");
    return nullptr;
  }
  return env->NewDirectByteBuffer(address, static_cast<jlong>(bytes));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_blockSize(JNIEnv* env, jclass, jlong heap,
                                                                                jlong offset) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return 0;
  return offset < 0 ? 0 : static_cast<jlong>(h->block_size(static_cast<std::uint64_t>(offset)));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_rootSlot(JNIEnv*, jclass, jint index) {
  return index < 0 ? 0 : static_cast<jlong>(PersistentHeap::root_slot(static_cast<std::size_t>(index)));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_root(JNIEnv* env, jclass, jlong heap, jint index) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return 0;
  return index < 0 ? 0 : static_cast<jlong>(h->root(static_cast<std::size_t>(index)));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_reserve(JNIEnv* env, jclass, jlong heap,
                                                                              jlong size) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return 0;
  std::uint64_t bytes = 0;
  nativepool::PersistentReservation reservation;
  if (!to_u64(env, size, "size", &bytes) || !check(env, h->reserve(bytes, &reservation))) return 0;
  return static_cast<jlong>(reservation.offset);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_publish(JNIEnv* env, jclass, jlong heap,
                                                                             jlong offset, jlong size,
                                                                             jlong destination) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return;
  nativepool::PersistentReservation reservation;
  std::uint64_t target = 0;
  if (!to_u64(env, offset, "offset", &reservation.offset) || !to_u64(env, size, "size", &reservation.size) ||
      !to_u64(env, destination, "destination", &target)) {
    return;
  }
  (void)check(env, h->publish(reservation, target));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_cancel(JNIEnv* env, jclass, jlong heap,
                                                                            jlong offset, jlong size) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return;
  nativepool::PersistentReservation reservation;
  if (!to_u64(env, offset, "offset", &reservation.offset) || !to_u64(env, size, "size", &reservation.size)) return;
  (void)check(env, h->cancel(reservation));
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_allocate(JNIEnv* env, jclass, jlong heap,
                                                                               jlong size, jlong destination) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return 0;
  std::uint64_t bytes = 0;
  std::uint64_t target = 0;
  std::uint64_t block = 0;
  if (!to_u64(env, size, "size", &bytes) || !to_u64(env, destination, "destination", &target) ||
      !check(env, h->allocate(bytes, target, &block))) {
    return 0;
  }
  return static_cast<jlong>(block);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_free(JNIEnv* env, jclass, jlong heap,
                                                                          jlong destination) {
  on_offset(env, heap, destination, "destination", &PersistentHeap::free);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_persist(JNIEnv* env, jclass, jlong heap,
                                                                             jlong block, jlong offset,
                                                                             jlong length) {
  on_range(env, heap, block, offset, length, &PersistentHeap::persist);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_flush(JNIEnv* env, jclass, jlong heap) {
  on_heap(env, heap, &PersistentHeap::flush);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_grow(JNIEnv* env, jclass, jlong heap,
                                                                          jlong capacity) {
  on_offset(env, heap, capacity, "capacity", &PersistentHeap::grow);
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_mappings(JNIEnv* env, jclass, jlong heap) {
  PersistentHeap* h = find_heap(env, heap);
  return h == nullptr ? 0 : static_cast<jlong>(h->mappings());
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_begin(JNIEnv* env, jclass, jlong heap) {
  on_heap(env, heap, &PersistentHeap::begin);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_snapshot(JNIEnv* env, jclass, jlong heap,
                                                                              jlong block, jlong offset,
                                                                              jlong length) {
  on_range(env, heap, block, offset, length, &PersistentHeap::snapshot);
}

JNIEXPORT jlong JNICALL Java_org_nativepool_internal_PersistentNative_txAllocate(JNIEnv* env, jclass, jlong heap,
                                                                                 jlong size) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return 0;
  std::uint64_t bytes = 0;
  std::uint64_t block = 0;
  if (!to_u64(env, size, "size", &bytes) || !check(env, h->tx_allocate(bytes, &block))) return 0;
  return static_cast<jlong>(block);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_txFree(JNIEnv* env, jclass, jlong heap,
                                                                            jlong block) {
  on_offset(env, heap, block, "block", &PersistentHeap::tx_free);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_txSetRoot(JNIEnv* env, jclass, jlong heap,
                                                                               jint index, jlong block) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return;
  std::uint64_t b = 0;
  if (index < 0) {
    nativepool::jni::throw_invalid_argument(env, "a root index must not be negative");
    return;
  }
  if (to_u64(env, block, "block", &b)) (void)check(env, h->tx_set_root(static_cast<std::size_t>(index), b));
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_commit(JNIEnv* env, jclass, jlong heap) {
  on_heap(env, heap, &PersistentHeap::commit);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_abort(JNIEnv* env, jclass, jlong heap) {
  on_heap(env, heap, &PersistentHeap::abort);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_validate(JNIEnv* env, jclass, jlong heap) {
  on_heap(env, heap, &PersistentHeap::validate);
}

JNIEXPORT void JNICALL Java_org_nativepool_internal_PersistentNative_stats(JNIEnv* env, jclass, jlong heap,
                                                                           jlongArray out) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return;
  if (!nativepool::jni::check_array(env, out, kStatsFields, "stats array")) return;
  const nativepool::PersistentStats s = h->stats();
  // Order of org.nativepool.PersistentStats' components.
  const jlong fields[] = {
      static_cast<jlong>(s.capacity),       static_cast<jlong>(s.heap_bytes),     static_cast<jlong>(s.live_blocks),
      static_cast<jlong>(s.bytes_in_use),   static_cast<jlong>(s.units_in_use),   static_cast<jlong>(s.free_bytes),
      static_cast<jlong>(s.largest_free),   static_cast<jlong>(s.free_extents),   static_cast<jlong>(s.allocations),
      static_cast<jlong>(s.frees),          static_cast<jlong>(s.flushed_bytes),  static_cast<jlong>(s.persist_points),
      static_cast<jlong>(s.recovered_redo), static_cast<jlong>(s.recovered_undo),
  };
  static_assert(static_cast<jint>(std::size(fields)) == kStatsFields, "PersistentStats field order");
  env->SetLongArrayRegion(out, 0, static_cast<jsize>(std::size(fields)), fields);
}

JNIEXPORT jint JNICALL Java_org_nativepool_internal_PersistentNative_durability(JNIEnv* env, jclass, jlong heap) {
  PersistentHeap* h = find_heap(env, heap);
  if (h == nullptr) return 0;
  return static_cast<jint>(h->durability());
}

JNIEXPORT jstring JNICALL Java_org_nativepool_internal_PersistentNative_cacheFlushInstruction(JNIEnv* env, jclass) {
  return env->NewStringUTF(nativepool::cache_flush_instruction());
}

// The heap as one region of runs, in PoolNative.snapshot's layout.
JNIEXPORT jobjectArray JNICALL Java_org_nativepool_internal_PersistentNative_memorySnapshot(JNIEnv* env, jclass,
                                                                                          jlong heap) {
  PersistentHeap* h = find_heap(env, heap);
  nativepool::MemorySnapshot snapshot;
  if (h == nullptr || !check(env, h->snapshot(&snapshot))) return nullptr;
  return nativepool::jni::snapshot_to_java(env, snapshot);
}

}  // extern "C"

namespace nativepool::jni {

bool register_persistent_natives(JNIEnv* env) noexcept {
  static const JNINativeMethod methods[] = {
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, create, "(Ljava/lang/String;JJZZJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, open, "(Ljava/lang/String;ZZJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, destroy, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, wrap, "(JJJ)Ljava/nio/ByteBuffer;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, blockSize, "(JJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, rootSlot, "(I)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, root, "(JI)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, reserve, "(JJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, publish, "(JJJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, cancel, "(JJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, allocate, "(JJJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, free, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, persist, "(JJJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, flush, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, grow, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, mappings, "(J)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, begin, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, snapshot, "(JJJJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, txAllocate, "(JJ)J"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, txFree, "(JJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, txSetRoot, "(JIJ)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, commit, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, abort, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, validate, "(J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, stats, "(J[J)V"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, durability, "(J)I"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, cacheFlushInstruction, "()Ljava/lang/String;"),
      NATIVEPOOL_NATIVE(org_nativepool_internal_PersistentNative, memorySnapshot, "(J)[Ljava/lang/Object;"),
  };
  return register_natives(env, "org/nativepool/internal/PersistentNative", methods);
}

}  // namespace nativepool::jni
