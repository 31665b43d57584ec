// SPDX-License-Identifier: Apache-2.0
// SimulatedRuntime: host memory posing as N devices, so that every layer
// above DeviceRuntime runs in CI without a GPU. It keeps CUDA's observable
// semantics: each stream is a worker thread that runs its copies in order,
// events complete when their stream reaches them, stream_wait_event blocks a
// stream (never the host), and failures carry the CUDA error the real
// runtime would report. Callers must treat the "device" memory as opaque.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "nativepool/gpu/device_error.hpp"
#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/math.hpp"

namespace nativepool::gpu {
namespace {

constexpr DeviceError kOutOfMemory{2, "cudaErrorMemoryAllocation", "cudaMalloc"};
constexpr std::size_t kDeviceAlignment = 256;
constexpr std::size_t kPageSize = 4096;
constexpr std::size_t kLargeAllocation = std::size_t{64} << 10;

/// One stream: a thread that runs the stream's operations in order.
class StreamWorker {
 public:
  explicit StreamWorker(int device) : device_(device), thread_([this] { run(); }) {}

  ~StreamWorker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_.notify_one();
    thread_.join();  // drains the queue first, as cudaStreamDestroy lets work finish
  }

  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  [[nodiscard]] int device() const noexcept { return device_; }

  void enqueue(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(task));
      ++enqueued_;
    }
    work_.notify_one();
  }

  void synchronize() {
    std::unique_lock lock(mutex_);
    const std::uint64_t target = enqueued_;
    idle_.wait(lock, [&] { return done_ >= target; });
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      ++done_;
      idle_.notify_all();
    }
  }

  const int device_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  std::uint64_t enqueued_ = 0;
  std::uint64_t done_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

/// An event: a generation counter. Recording bumps `recorded`; the stream
/// raises `completed` to that generation when it reaches the record.
struct EventState {
  explicit EventState(int dev) noexcept : device(dev) {}
  const int device;
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t recorded = 0;
  std::uint64_t completed = 0;

  void complete(std::uint64_t generation) {
    {
      std::lock_guard lock(mutex);
      if (generation > completed) completed = generation;
    }
    changed.notify_all();
  }

  void wait_for(std::uint64_t generation) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return completed >= generation; });
  }
};

/// Event handles point at one of these; queued tasks share the state, so an
/// event may be destroyed while a stream still has to reach it.
struct EventBox {
  std::shared_ptr<EventState> state;
};

StreamWorker* worker(Stream stream) noexcept { return reinterpret_cast<StreamWorker*>(stream); }
EventState& state(Event event) noexcept { return *reinterpret_cast<EventBox*>(event)->state; }

class SimulatedRuntime final : public DeviceRuntime {
 public:
  SimulatedRuntime(int devices, std::size_t capacity)
      : capacity_(capacity), used_(static_cast<std::size_t>(devices), 0) {}

  ~SimulatedRuntime() override {
    for (auto& [address, allocation] : allocations_) std::free(reinterpret_cast<void*>(address));
  }

  std::string_view name() const noexcept override { return "simulated"; }
  int device_count() const noexcept override { return static_cast<int>(used_.size()); }

  Status memory_info(int device, MemoryInfo* out) noexcept override {
    if (const Status status = check_device(device); status != Status::kOk) return status;
    std::lock_guard lock(mutex_);
    out->total_bytes = capacity_;
    out->free_bytes = capacity_ - used_[static_cast<std::size_t>(device)];
    return Status::kOk;
  }

  Status device_malloc(int device, std::size_t size, void** out) noexcept override {
    if (const Status status = check_device(device); status != Status::kOk) return status;
    std::size_t rounded = 0;
    if (size == 0 || !round_up_checked(size, kDeviceAlignment, &rounded)) {
      return fail(Status::kInvalidArgument, "simulated device %d: cannot allocate %zu bytes", device, size);
    }
    std::lock_guard lock(mutex_);
    std::size_t& used = used_[static_cast<std::size_t>(device)];
    if (rounded > capacity_ - used) {
      return device_fail(kOutOfMemory, "simulated device is full");
    }
    // Like the CUDA allocator, which serves large requests from whole pages.
    const std::size_t alignment = rounded >= kLargeAllocation ? kPageSize : kDeviceAlignment;
    void* memory = std::aligned_alloc(alignment, round_up(rounded, alignment));
    if (memory == nullptr) return device_fail(kOutOfMemory, "host memory behind the simulated device is exhausted");
    try {
      allocations_.emplace(reinterpret_cast<std::uintptr_t>(memory), Allocation{rounded, device});
    } catch (const std::bad_alloc&) {
      std::free(memory);
      return fail(Status::kInternal, "simulated runtime: out of host memory for bookkeeping");
    }
    used += rounded;
    *out = memory;
    return Status::kOk;
  }

  void device_free(int device, void* ptr) noexcept override {
    std::lock_guard lock(mutex_);
    const auto found = allocations_.find(reinterpret_cast<std::uintptr_t>(ptr));
    if (found == allocations_.end() || found->second.device != device) return;
    used_[static_cast<std::size_t>(device)] -= found->second.size;
    allocations_.erase(found);
    std::free(ptr);
  }

  Status pinned_malloc(std::size_t size, void** out) noexcept override {
    std::size_t rounded = 0;
    if (size == 0 || !round_up_checked(size, kPageSize, &rounded)) {
      return fail(Status::kInvalidArgument, "simulated runtime: cannot pin %zu bytes", size);
    }
    void* memory = std::aligned_alloc(kPageSize, rounded);
    if (memory == nullptr) {
      return device_fail({2, "cudaErrorMemoryAllocation", "cudaHostAlloc"}, "out of host memory");
    }
    *out = memory;
    return Status::kOk;
  }

  void pinned_free(void* ptr) noexcept override { std::free(ptr); }

  // As cudaHostRegister: refuses a range registered already, and faults every
  // page in (rewriting a byte of each leaves the contents as they were).
  Status host_register(void* ptr, std::size_t size) noexcept override {
    if (ptr == nullptr || size == 0) {
      return device_fail({1, "cudaErrorInvalidValue", "cudaHostRegister"}, "null or empty range");
    }
    {
      std::lock_guard lock(mutex_);
      try {
        if (!registered_.emplace(reinterpret_cast<std::uintptr_t>(ptr), size).second) {
          return device_fail({712, "cudaErrorHostMemoryAlreadyRegistered", "cudaHostRegister"},
                             "the range is registered already");
        }
      } catch (const std::bad_alloc&) {
        return device_fail({2, "cudaErrorMemoryAllocation", "cudaHostRegister"}, "out of host memory");
      }
    }
    auto* bytes = static_cast<volatile unsigned char*>(ptr);
    for (std::size_t at = 0; at < size; at += kPageSize) bytes[at] = bytes[at];
    return Status::kOk;
  }

  void host_unregister(void* ptr) noexcept override {
    std::lock_guard lock(mutex_);
    registered_.erase(reinterpret_cast<std::uintptr_t>(ptr));
  }

  Status stream_create(int device, Stream* out) noexcept override {
    if (const Status status = check_device(device); status != Status::kOk) return status;
    try {
      *out = static_cast<Stream>(reinterpret_cast<std::uintptr_t>(new StreamWorker(device)));
      return Status::kOk;
    } catch (const std::exception& e) {
      return fail(Status::kInternal, "simulated runtime: cannot start a stream thread: %s", e.what());
    }
  }

  void stream_destroy(Stream stream) noexcept override { delete worker(stream); }

  Status stream_synchronize(Stream stream) noexcept override {
    try {
      worker(stream)->synchronize();
      return Status::kOk;
    } catch (const std::exception& e) {
      return fail(Status::kInternal, "simulated runtime: stream synchronize failed: %s", e.what());
    }
  }

  int stream_device(Stream stream) const noexcept override { return worker(stream)->device(); }

  Status event_create(int device, Event* out) noexcept override {
    if (const Status status = check_device(device); status != Status::kOk) return status;
    try {
      auto* box = new EventBox{std::make_shared<EventState>(device)};
      *out = static_cast<Event>(reinterpret_cast<std::uintptr_t>(box));
      return Status::kOk;
    } catch (const std::bad_alloc&) {
      return fail(Status::kInternal, "simulated runtime: out of host memory for an event");
    }
  }

  void event_destroy(Event event) noexcept override { delete reinterpret_cast<EventBox*>(event); }

  Status event_record(Event event, Stream stream) noexcept override {
    std::shared_ptr<EventState> shared = reinterpret_cast<EventBox*>(event)->state;
    if (shared->device != worker(stream)->device()) {
      return device_fail({400, "cudaErrorInvalidResourceHandle", "cudaEventRecord"},
                         "the event and the stream belong to different devices");
    }
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(shared->mutex);
      generation = ++shared->recorded;
    }
    return enqueue(stream, [shared, generation] { shared->complete(generation); });
  }

  Status event_query(Event event, bool* complete) noexcept override {
    EventState& s = state(event);
    std::lock_guard lock(s.mutex);
    *complete = s.completed >= s.recorded;
    return Status::kOk;
  }

  Status event_synchronize(Event event) noexcept override {
    EventState& s = state(event);
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(s.mutex);
      generation = s.recorded;
    }
    s.wait_for(generation);
    return Status::kOk;
  }

  Status stream_wait_event(Stream stream, Event event) noexcept override {
    std::shared_ptr<EventState> shared = reinterpret_cast<EventBox*>(event)->state;
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(shared->mutex);
      generation = shared->recorded;
    }
    // Captured now, like CUDA: records made after this call do not count.
    return enqueue(stream, [shared, generation] { shared->wait_for(generation); });
  }

  Status memcpy_async(void* dst, const void* src, std::size_t bytes, CopyKind kind, Stream stream) noexcept override {
    const bool dst_device = kind != CopyKind::kDeviceToHost;
    const bool src_device = kind != CopyKind::kHostToDevice;
    if (const Status status = check_side(dst, bytes, dst_device, "destination"); status != Status::kOk) return status;
    if (const Status status = check_side(src, bytes, src_device, "source"); status != Status::kOk) return status;
    return enqueue(stream, [dst, src, bytes] { std::memcpy(dst, src, bytes); });
  }

  Status memcpy_peer_async(void* dst, int dst_device, const void* src, int src_device, std::size_t bytes,
                           Stream stream) noexcept override {
    if (const Status status = check_on(dst, bytes, dst_device, "destination", "cudaMemcpyPeerAsync");
        status != Status::kOk) {
      return status;
    }
    if (const Status status = check_on(src, bytes, src_device, "source", "cudaMemcpyPeerAsync");
        status != Status::kOk) {
      return status;
    }
    return enqueue(stream, [dst, src, bytes] { std::memcpy(dst, src, bytes); });
  }

  // Run on the calling thread at once: no stream of the caller orders them,
  // as no stream orders the real runtime's per-thread default stream.
  Status memset_sync(int device, void* dst, unsigned char value, std::size_t bytes) noexcept override {
    if (const Status status = check_on(dst, bytes, device, "destination", "cudaMemsetAsync");
        status != Status::kOk) {
      return status;
    }
    std::memset(dst, value, bytes);
    return Status::kOk;
  }

  Status memcpy_sync(int device, void* dst, const void* src, std::size_t bytes, CopyKind kind) noexcept override {
    const bool dst_device = kind != CopyKind::kDeviceToHost;
    const bool src_device = kind != CopyKind::kHostToDevice;
    const Status dst_status = dst_device ? check_on(dst, bytes, device, "destination", "cudaMemcpyAsync")
                                         : check_side(dst, bytes, false, "destination");
    if (dst_status != Status::kOk) return dst_status;
    const Status src_status = src_device ? check_on(src, bytes, device, "source", "cudaMemcpyAsync")
                                         : check_side(src, bytes, false, "source");
    if (src_status != Status::kOk) return src_status;
    std::memcpy(dst, src, bytes);
    return Status::kOk;
  }

  Status host_callback(Stream stream, void (*fn)(void*), void* data) noexcept override {
    return enqueue(stream, [fn, data] { fn(data); });
  }

  Status can_access_peer(int device, int peer, bool* out) noexcept override {
    if (const Status status = check_device(device); status != Status::kOk) return status;
    if (const Status status = check_device(peer); status != Status::kOk) return status;
    *out = device != peer;
    return Status::kOk;
  }

  Status enable_peer_access(int device, int peer) noexcept override {
    bool possible = false;
    if (const Status status = can_access_peer(device, peer, &possible); status != Status::kOk) return status;
    if (!possible) {
      return device_fail({1, "cudaErrorInvalidDevice", "cudaDeviceEnablePeerAccess"}, "a device is not its own peer");
    }
    return Status::kOk;
  }

 private:
  struct Allocation {
    std::size_t size;
    int device;
  };

  template <class Task>
  static Status enqueue(Stream stream, Task&& task) noexcept {
    try {
      worker(stream)->enqueue(std::forward<Task>(task));
      return Status::kOk;
    } catch (const std::bad_alloc&) {
      return fail(Status::kInternal, "simulated runtime: out of host memory for a stream operation");
    }
  }

  /// Device of the simulated allocation holding [ptr, ptr+bytes), or -1.
  int device_of(const void* ptr, std::size_t bytes) const noexcept {
    const auto address = reinterpret_cast<std::uintptr_t>(ptr);
    std::lock_guard lock(mutex_);
    auto next = allocations_.upper_bound(address);
    if (next == allocations_.begin()) return -1;
    const auto& [base, allocation] = *std::prev(next);
    return address - base <= allocation.size && bytes <= allocation.size - (address - base) ? allocation.device : -1;
  }

  // What cudaMemcpyAsync reports when a pointer does not match the copy's kind.
  Status check_side(const void* ptr, std::size_t bytes, bool want_device, const char* side) const noexcept {
    if ((device_of(ptr, bytes) >= 0) == want_device) return Status::kOk;
    char message[128];
    std::snprintf(message, sizeof message, "the %s range %p+%zu is %s", side, ptr, bytes,
                  want_device ? "not simulated device memory" : "device memory, not host memory");
    return device_fail({1, "cudaErrorInvalidValue", "cudaMemcpyAsync"}, message);
  }

  Status check_on(const void* ptr, std::size_t bytes, int device, const char* side, const char* call) const noexcept {
    if (device_of(ptr, bytes) == device) return Status::kOk;
    char message[128];
    std::snprintf(message, sizeof message, "the %s range %p+%zu is not memory of simulated device %d", side, ptr,
                  bytes, device);
    return device_fail({1, "cudaErrorInvalidValue", call}, message);
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;  // guards used_, allocations_ and registered_
  std::vector<std::size_t> used_;
  std::map<std::uintptr_t, Allocation> allocations_;
  std::map<std::uintptr_t, std::size_t> registered_;  // host_register()ed ranges by start
};

}  // namespace

Status make_simulated_runtime(int devices, std::size_t capacity, std::shared_ptr<DeviceRuntime>* out) noexcept {
  if (devices <= 0 || capacity == 0) {
    return fail(Status::kInvalidArgument, "simulated runtime needs at least one device and a capacity (got %d, %zu)",
                devices, capacity);
  }
  if (devices > kMaxSimulatedDevices) {
    return fail(Status::kInvalidArgument, "simulated runtime: %d devices requested, at most %d can be simulated",
                devices, kMaxSimulatedDevices);
  }
  // Totals over all devices reach Java as signed 64-bit figures: refuse what
  // would make them wrap negative rather than report nonsense.
  constexpr std::size_t kMaxTotal = std::size_t{INT64_MAX};
  if (capacity > kMaxTotal / static_cast<std::size_t>(devices)) {
    return fail(Status::kInvalidArgument,
                "simulated runtime: %d devices of %zu bytes exceed %zu bytes in all (2^63 - 1, the most a total can "
                "report)",
                devices, capacity, kMaxTotal);
  }
  try {
    *out = std::make_shared<SimulatedRuntime>(devices, capacity);
    return Status::kOk;
  } catch (const std::bad_alloc&) {
    return fail(Status::kInternal, "simulated runtime: out of host memory");
  }
}

std::shared_ptr<DeviceRuntime> default_simulated_runtime() noexcept {
  static const std::shared_ptr<DeviceRuntime> runtime = [] {
    std::shared_ptr<DeviceRuntime> created;
    (void)make_simulated_runtime(4, std::size_t{1} << 30, &created);
    return created;
  }();
  return runtime;
}

}  // namespace nativepool::gpu
