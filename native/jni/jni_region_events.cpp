// SPDX-License-Identifier: Apache-2.0
#include "jni_region_events.hpp"

#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "jni_env.hpp"
#include "nativepool/status.hpp"

namespace nativepool::jni {

namespace {

struct Pending {
  const JavaRegionCalls* listener;  // alive: the pool call that queued it is still in flight
  bool mapped;
  void* region;
  std::size_t size;
};

// The calls a thread queued while it held critical arrays, and how many scopes it is in.
struct Queue {
  int depth = 0;
  std::vector<Pending> pending;
};

thread_local Queue t_queue;

jlong as_jlong(void* region) noexcept { return static_cast<jlong>(reinterpret_cast<std::uintptr_t>(region)); }

constexpr const char* kSinkSignature = "(JJLjava/lang/String;II)V";

// The Flight Recorder's listener on one backend of a pool: calls
// RegionEvents.mapped/unmapped(address, bytes, backend, kind, ordinal) of the
// pool's sink, which fills and commits an event only when a recording wants
// it. Owns a global reference to the sink and one to the backend's name,
// made once, so an event allocates nothing here.
class FlightRecorderRegions final : public JavaRegionCalls {
 public:
  FlightRecorderRegions(JavaVM* vm, jobject sink, jstring backend, jmethodID mapped, jmethodID unmapped,
                        jint kind, jint ordinal) noexcept
      : JavaRegionCalls(vm), sink_(sink), backend_(backend), mapped_(mapped), unmapped_(unmapped), kind_(kind),
        ordinal_(ordinal) {}

  // Events only: the pages of a pool's free space may go back to the system.
  [[nodiscard]] bool only_observes() const noexcept override { return true; }

  ~FlightRecorderRegions() override {
    // The pool and its backends are destroyed from Java (PoolNative.destroy, a failed build), so
    // a thread's env is at hand; a native thread is attached as for an event.
    if (JNIEnv* e = env(); e != nullptr) {
      e->DeleteGlobalRef(sink_);
      e->DeleteGlobalRef(backend_);
    }
  }
  FlightRecorderRegions(const FlightRecorderRegions&) = delete;
  FlightRecorderRegions& operator=(const FlightRecorderRegions&) = delete;

  void call(JNIEnv* env, bool mapped, void* region, std::size_t size) const noexcept override {
    env->CallVoidMethod(sink_, mapped ? mapped_ : unmapped_, as_jlong(region), static_cast<jlong>(size), backend_,
                        kind_, ordinal_);
  }

 private:
  jobject sink_;
  jstring backend_;
  jmethodID mapped_;
  jmethodID unmapped_;
  jint kind_;
  jint ordinal_;
};

// A global reference to a new string of @p text; null with no exception pending when out of memory.
jstring global_string(JNIEnv* env, std::string_view text) noexcept {
  jstring local = nullptr;
  try {
    local = env->NewStringUTF(std::string(text).c_str());
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  if (local == nullptr) {
    env->ExceptionClear();  // the OutOfMemoryError: the caller reports its own status
    return nullptr;
  }
  auto global = static_cast<jstring>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return global;
}

}  // namespace

JNIEnv* JavaRegionCalls::env() const noexcept { return current_env(vm_); }

void JavaRegionCalls::report(bool mapped, void* region, std::size_t size) const noexcept {
  if (t_queue.depth > 0) [[unlikely]] {
    try {
      t_queue.pending.push_back({this, mapped, region, size});
    } catch (const std::bad_alloc&) {
      // Out of host memory for a few bytes: the event is lost, as an event of a thread that
      // cannot be attached is; the region itself is mapped or unmapped all the same.
    }
    return;
  }
  JNIEnv* e = env();
  if (e == nullptr || e->ExceptionCheck()) return;  // Java code must not run with an exception pending
  call(e, mapped, region, size);
  if (e->ExceptionCheck()) e->ExceptionDescribe();  // prints and clears
}

NoJavaScope::NoJavaScope() noexcept { ++t_queue.depth; }

NoJavaScope::~NoJavaScope() {
  if (--t_queue.depth > 0) return;
  // Delivered in the order they happened; none is queued meanwhile, the depth being 0.
  for (const Pending& event : t_queue.pending) event.listener->report(event.mapped, event.region, event.size);
  t_queue.pending.clear();
}

Status report_regions(JNIEnv* env, jobject sink, std::shared_ptr<Backend>* backend) noexcept {
  if (sink == nullptr) return Status::kOk;
  JavaVM* vm = nullptr;
  jclass cls = env->GetObjectClass(sink);
  const jmethodID mapped = env->GetMethodID(cls, "mapped", kSinkSignature);
  const jmethodID unmapped = mapped != nullptr ? env->GetMethodID(cls, "unmapped", kSinkSignature) : nullptr;
  env->DeleteLocalRef(cls);
  if (unmapped == nullptr) {
    env->ExceptionClear();  // the NoSuchMethodError: the status names the mistake
    return fail(Status::kInvalidArgument, "the region event sink is no org.nativepool.RegionEvents");
  }
  if (env->GetJavaVM(&vm) != JNI_OK) return fail(Status::kInternal, "no Java VM for region events");
  const Backend& inner = **backend;
  jobject global_sink = env->NewGlobalRef(sink);
  jstring name = global_string(env, inner.name());
  auto* listener = global_sink == nullptr || name == nullptr
                       ? nullptr
                       : new (std::nothrow) FlightRecorderRegions(vm, global_sink, name, mapped, unmapped,
                                                                  static_cast<jint>(inner.kind()), inner.device());
  if (listener == nullptr) {
    env->ExceptionClear();  // an OutOfMemoryError, if the VM raised one: the status reports it
    if (global_sink != nullptr) env->DeleteGlobalRef(global_sink);
    if (name != nullptr) env->DeleteGlobalRef(name);
    return fail(Status::kInternal, "out of memory for a pool's region events");
  }
  try {
    std::shared_ptr<RegionListener> owned(listener);  // deletes it, and its references, if what follows throws
    *backend = std::make_shared<ListenedBackend>(std::move(*backend), std::move(owned));
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "out of memory for a pool's region events");
  }
  return Status::kOk;
}

}  // namespace nativepool::jni
