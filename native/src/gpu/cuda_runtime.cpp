// SPDX-License-Identifier: Apache-2.0
// CudaRuntime: DeviceRuntime over the CUDA runtime API, compiled only when
// CMake found the CUDA Toolkit (NATIVEPOOL_HAVE_CUDA). The runtime is linked
// statically, so the library needs nothing from CUDA on the user's machine
// but the driver; without a driver or a GPU it loads and reports 0 devices.
#include <cstdint>
#include <memory>
#include <new>

#include "nativepool/gpu/runtimes.hpp"

#ifdef NATIVEPOOL_HAVE_CUDA

#include <cuda_runtime_api.h>

#include <string>

#include "nativepool/gpu/device_error.hpp"

namespace nativepool::gpu {
namespace {

Status check(cudaError_t error, const char* call) noexcept {
  if (error == cudaSuccess) [[likely]] return Status::kOk;
  (void)cudaGetLastError();  // clear it, so the next call does not see it again
  return device_fail({static_cast<int>(error), cudaGetErrorName(error), call}, cudaGetErrorString(error));
}

/// Makes @p device current for one scope and restores the caller's device:
/// the runtime API works on the calling thread's current device, and Java
/// threads must not find it changed behind their back.
class DeviceScope {
 public:
  explicit DeviceScope(int device) noexcept {
    int current = 0;
    if (cudaGetDevice(&current) == cudaSuccess && current == device) return;
    status_ = check(cudaSetDevice(device), "cudaSetDevice");
    if (status_ == Status::kOk) previous_ = current;
  }
  ~DeviceScope() {
    if (previous_ >= 0) (void)cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

  [[nodiscard]] Status status() const noexcept { return status_; }

 private:
  Status status_ = Status::kOk;
  int previous_ = -1;
};

struct CudaStream {
  cudaStream_t stream;
  int device;
};

struct CudaEvent {
  cudaEvent_t event;
  int device;
};

CudaStream* as_stream(Stream stream) noexcept { return reinterpret_cast<CudaStream*>(stream); }
CudaEvent* as_event(Event event) noexcept { return reinterpret_cast<CudaEvent*>(event); }

cudaMemcpyKind to_cuda(CopyKind kind) noexcept {
  switch (kind) {
    case CopyKind::kHostToDevice: return cudaMemcpyHostToDevice;
    case CopyKind::kDeviceToHost: return cudaMemcpyDeviceToHost;
    case CopyKind::kDeviceToDevice: return cudaMemcpyDeviceToDevice;
  }
  return cudaMemcpyDefault;
}

class CudaRuntime final : public DeviceRuntime {
 public:
  CudaRuntime() noexcept {
    const cudaError_t error = cudaGetDeviceCount(&devices_);
    if (error != cudaSuccess) {
      // cudaErrorNoDevice, cudaErrorInsufficientDriver, ...: a machine
      // without a usable GPU, which is a normal state, not a failure.
      (void)cudaGetLastError();
      devices_ = 0;
      reason_ = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(error) + " (" +
                std::to_string(static_cast<int>(error)) + "): " + cudaGetErrorString(error);
    } else if (devices_ == 0) {
      reason_ = "cudaGetDeviceCount reports 0 devices";
    }
  }

  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

  std::string_view name() const noexcept override { return "cuda"; }
  int device_count() const noexcept override { return devices_; }

  Status memory_info(int device, MemoryInfo* out) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    return check(cudaMemGetInfo(&out->free_bytes, &out->total_bytes), "cudaMemGetInfo");
  }

  Status device_malloc(int device, std::size_t size, void** out) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    return check(cudaMalloc(out, size), "cudaMalloc");
  }

  void device_free(int device, void* ptr) noexcept override {
    DeviceScope scope(device);
    (void)check(cudaFree(ptr), "cudaFree");
  }

  Status pinned_malloc(std::size_t size, void** out) noexcept override {
    if (const Status status = enter(0); status != Status::kOk) return status;
    // Portable: the pages are pinned for every device, not only the current one.
    return check(cudaHostAlloc(out, size, cudaHostAllocPortable), "cudaHostAlloc");
  }

  void pinned_free(void* ptr) noexcept override { (void)check(cudaFreeHost(ptr), "cudaFreeHost"); }

  Status host_register(void* ptr, std::size_t size) noexcept override {
    if (const Status status = enter(0); status != Status::kOk) return status;
    return check(cudaHostRegister(ptr, size, cudaHostRegisterPortable), "cudaHostRegister");
  }

  void host_unregister(void* ptr) noexcept override { (void)check(cudaHostUnregister(ptr), "cudaHostUnregister"); }

  Status stream_create(int device, Stream* out) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    cudaStream_t stream = nullptr;
    // Non-blocking: no implicit synchronisation with the legacy default stream.
    if (const Status status = check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
        status != Status::kOk) {
      return status;
    }
    auto* handle = new (std::nothrow) CudaStream{stream, device};
    if (handle == nullptr) {
      (void)cudaStreamDestroy(stream);
      return fail(Status::kInternal, "out of host memory for a stream handle");
    }
    *out = static_cast<Stream>(reinterpret_cast<std::uintptr_t>(handle));
    return Status::kOk;
  }

  void stream_destroy(Stream stream) noexcept override {
    CudaStream* handle = as_stream(stream);
    DeviceScope scope(handle->device);
    (void)cudaStreamSynchronize(handle->stream);
    (void)cudaStreamDestroy(handle->stream);
    delete handle;
  }

  Status stream_synchronize(Stream stream) noexcept override {
    return check(cudaStreamSynchronize(as_stream(stream)->stream), "cudaStreamSynchronize");
  }

  int stream_device(Stream stream) const noexcept override { return as_stream(stream)->device; }

  Status event_create(int device, Event* out) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    cudaEvent_t event = nullptr;
    // Without timing, recording and querying are cheapest.
    if (const Status status = check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
        status != Status::kOk) {
      return status;
    }
    auto* handle = new (std::nothrow) CudaEvent{event, device};
    if (handle == nullptr) {
      (void)cudaEventDestroy(event);
      return fail(Status::kInternal, "out of host memory for an event handle");
    }
    *out = static_cast<Event>(reinterpret_cast<std::uintptr_t>(handle));
    return Status::kOk;
  }

  void event_destroy(Event event) noexcept override {
    CudaEvent* handle = as_event(event);
    DeviceScope scope(handle->device);
    (void)cudaEventDestroy(handle->event);
    delete handle;
  }

  Status event_record(Event event, Stream stream) noexcept override {
    DeviceScope scope(as_stream(stream)->device);
    if (scope.status() != Status::kOk) return scope.status();
    return check(cudaEventRecord(as_event(event)->event, as_stream(stream)->stream), "cudaEventRecord");
  }

  Status event_query(Event event, bool* complete) noexcept override {
    const cudaError_t error = cudaEventQuery(as_event(event)->event);
    if (error == cudaErrorNotReady) {
      *complete = false;
      return Status::kOk;
    }
    *complete = error == cudaSuccess;
    return check(error, "cudaEventQuery");
  }

  Status event_synchronize(Event event) noexcept override {
    return check(cudaEventSynchronize(as_event(event)->event), "cudaEventSynchronize");
  }

  Status stream_wait_event(Stream stream, Event event) noexcept override {
    DeviceScope scope(as_stream(stream)->device);
    if (scope.status() != Status::kOk) return scope.status();
    return check(cudaStreamWaitEvent(as_stream(stream)->stream, as_event(event)->event, 0), "cudaStreamWaitEvent");
  }

  Status memcpy_async(void* dst, const void* src, std::size_t bytes, CopyKind kind, Stream stream) noexcept override {
    DeviceScope scope(as_stream(stream)->device);
    if (scope.status() != Status::kOk) return scope.status();
    return check(cudaMemcpyAsync(dst, src, bytes, to_cuda(kind), as_stream(stream)->stream), "cudaMemcpyAsync");
  }

  Status memcpy_peer_async(void* dst, int dst_device, const void* src, int src_device, std::size_t bytes,
                           Stream stream) noexcept override {
    DeviceScope scope(as_stream(stream)->device);
    if (scope.status() != Status::kOk) return scope.status();
    return check(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, as_stream(stream)->stream),
                 "cudaMemcpyPeerAsync");
  }

  // On the calling thread's per-thread default stream, which never waits for
  // the pools' non-blocking streams, then waited for: the legacy default
  // stream would also be ordered after the caller's other work.
  Status memset_sync(int device, void* dst, unsigned char value, std::size_t bytes) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    if (const Status status = check(cudaMemsetAsync(dst, value, bytes, cudaStreamPerThread), "cudaMemsetAsync");
        status != Status::kOk) {
      return status;
    }
    return check(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
  }

  Status memcpy_sync(int device, void* dst, const void* src, std::size_t bytes, CopyKind kind) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    if (const Status status = check(cudaMemcpyAsync(dst, src, bytes, to_cuda(kind), cudaStreamPerThread),
                                    "cudaMemcpyAsync");
        status != Status::kOk) {
      return status;
    }
    return check(cudaStreamSynchronize(cudaStreamPerThread), "cudaStreamSynchronize");
  }

  Status host_callback(Stream stream, void (*fn)(void*), void* data) noexcept override {
    return check(cudaLaunchHostFunc(as_stream(stream)->stream, fn, data), "cudaLaunchHostFunc");
  }

  Status can_access_peer(int device, int peer, bool* out) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    if (const Status status = check_device(peer); status != Status::kOk) return status;
    int possible = 0;
    const Status status = check(cudaDeviceCanAccessPeer(&possible, device, peer), "cudaDeviceCanAccessPeer");
    *out = possible != 0;
    return status;
  }

  Status enable_peer_access(int device, int peer) noexcept override {
    if (const Status status = enter(device); status != Status::kOk) return status;
    DeviceScope scope(device);
    if (scope.status() != Status::kOk) return scope.status();
    const cudaError_t error = cudaDeviceEnablePeerAccess(peer, 0);
    if (error == cudaErrorPeerAccessAlreadyEnabled) {
      (void)cudaGetLastError();
      return Status::kOk;
    }
    return check(error, "cudaDeviceEnablePeerAccess");
  }

 private:
  /// kNoDevice with the driver's reason when there is no GPU at all, so
  /// every call on such a machine fails the same clear way.
  Status enter(int device) const noexcept {
    if (devices_ == 0) [[unlikely]] return fail(Status::kNoDevice, "no CUDA device: %s", reason_.c_str());
    return check_device(device);
  }

  int devices_ = 0;
  std::string reason_;
};

const std::shared_ptr<CudaRuntime>& instance() noexcept {
  // Probed once: cudaGetDeviceCount initialises the runtime, which is slow.
  static const std::shared_ptr<CudaRuntime> runtime = std::make_shared<CudaRuntime>();
  return runtime;
}

}  // namespace

bool cuda_compiled() noexcept { return true; }

Status cuda_runtime(std::shared_ptr<DeviceRuntime>* out) noexcept {
  *out = instance();
  return Status::kOk;
}

const char* cuda_unavailable_reason() noexcept { return instance()->reason().c_str(); }

}  // namespace nativepool::gpu

#else  // !NATIVEPOOL_HAVE_CUDA

namespace nativepool::gpu {

bool cuda_compiled() noexcept { return false; }

Status cuda_runtime(std::shared_ptr<DeviceRuntime>*) noexcept {
  return fail(Status::kFeatureUnavailable, "CUDA is not compiled into this build of nativepool "
                                           "(configure with the CUDA Toolkit installed and NATIVEPOOL_WITH_CUDA=ON)");
}

const char* cuda_unavailable_reason() noexcept { return "CUDA is not compiled into this build of nativepool"; }

}  // namespace nativepool::gpu

#endif
