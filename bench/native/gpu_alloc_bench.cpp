// SPDX-License-Identifier: Apache-2.0
// Device allocation: nativepool's stream-ordered device pool against
// cudaMalloc+cudaFree and cudaMallocAsync+cudaFreeAsync (the driver's own
// stream-ordered pool, warm, release threshold at max), 256 B to 256 MiB on
// 1 and 4 streams; and host-device copy bandwidth from pinned and pageable
// memory against the device-to-device copy rate. Every run records the GPU,
// driver and runtime versions in the benchmark context, and each pool figure
// the pool's free-block count. Without a CUDA device it says so and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "nativepool/gpu/device_backend.hpp"
#include "nativepool/gpu/runtimes.hpp"
#include "nativepool/gpu/stream_ordered_pool.hpp"
#include "nativepool/pool_factory.hpp"

namespace {

using nativepool::Status;
namespace gpu = nativepool::gpu;

void check(cudaError_t error, const char* call) {
  if (error != cudaSuccess) {
    std::fprintf(stderr, "%s failed: %s (%d)\n", call, cudaGetErrorName(error), static_cast<int>(error));
    std::exit(1);
  }
}

void check(Status status, const char* call) {
  if (status != Status::kOk) {
    std::fprintf(stderr, "%s failed: %s\n", call, nativepool::error_detail());
    std::exit(1);
  }
}

std::shared_ptr<gpu::DeviceRuntime> runtime() {
  std::shared_ptr<gpu::DeviceRuntime> cuda;
  check(gpu::cuda_runtime(&cuda), "cuda_runtime");
  return cuda;
}

/// Streams for one benchmark run, destroyed with it.
class Streams {
 public:
  explicit Streams(std::int64_t count) : streams_(static_cast<std::size_t>(count)) {
    for (gpu::Stream& stream : streams_) check(runtime()->stream_create(0, &stream), "stream_create");
  }
  ~Streams() {
    for (gpu::Stream stream : streams_) runtime()->stream_destroy(stream);
  }
  Streams(const Streams&) = delete;
  Streams& operator=(const Streams&) = delete;

  [[nodiscard]] gpu::Stream at(std::size_t i) const { return streams_[i % streams_.size()]; }
  [[nodiscard]] std::size_t size() const { return streams_.size(); }

 private:
  std::vector<gpu::Stream> streams_;
};

void BM_DevicePool(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Streams streams(state.range(1));
  nativepool::VariablePoolConfig config;
  config.granularity = 256;
  std::unique_ptr<nativepool::Pool> upstream;
  check(nativepool::make_variable_pool(config, nativepool::ThreadSafety::kNone,
                                       std::make_shared<gpu::DeviceBackend>(runtime(), 0), &upstream),
        "make_variable_pool");
  gpu::StreamOrderedPool pool(runtime(), 0, std::move(upstream), 256);
  // Warm: one block per stream is cached before timing starts.
  for (std::size_t i = 0; i < streams.size(); ++i) {
    void* block = nullptr;
    check(pool.allocate(size, streams.at(i), &block), "allocate");
    check(pool.deallocate(block, streams.at(i)), "deallocate");
  }
  std::size_t i = 0;
  for (auto _ : state) {
    void* block = nullptr;
    const gpu::Stream stream = streams.at(i++);
    check(pool.allocate(size, stream, &block), "allocate");
    benchmark::DoNotOptimize(block);
    check(pool.deallocate(block, stream), "deallocate");
  }
  const gpu::StreamOrderedStats stats = pool.stats();
  state.counters["free_blocks"] =
      static_cast<double>(stats.upstream.fragmentation.free_blocks + stats.cached_blocks);
}

void BM_CudaMalloc(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  check(cudaSetDevice(0), "cudaSetDevice");
  for (auto _ : state) {
    void* block = nullptr;
    check(cudaMalloc(&block, size), "cudaMalloc");
    benchmark::DoNotOptimize(block);
    check(cudaFree(block), "cudaFree");
  }
}

void BM_CudaMallocAsync(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  check(cudaSetDevice(0), "cudaSetDevice");
  cudaMemPool_t mempool = nullptr;
  check(cudaDeviceGetDefaultMemPool(&mempool, 0), "cudaDeviceGetDefaultMemPool");
  std::uint64_t threshold = UINT64_MAX;  // never give memory back between runs
  check(cudaMemPoolSetAttribute(mempool, cudaMemPoolAttrReleaseThreshold, &threshold), "cudaMemPoolSetAttribute");
  std::vector<cudaStream_t> streams(static_cast<std::size_t>(state.range(1)));
  for (cudaStream_t& stream : streams) check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  for (cudaStream_t stream : streams) {  // warm
    void* block = nullptr;
    check(cudaMallocAsync(&block, size, stream), "cudaMallocAsync");
    check(cudaFreeAsync(block, stream), "cudaFreeAsync");
  }
  std::size_t i = 0;
  for (auto _ : state) {
    void* block = nullptr;
    cudaStream_t stream = streams[i++ % streams.size()];
    check(cudaMallocAsync(&block, size, stream), "cudaMallocAsync");
    benchmark::DoNotOptimize(block);
    check(cudaFreeAsync(block, stream), "cudaFreeAsync");
  }
  for (cudaStream_t stream : streams) {
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    check(cudaStreamDestroy(stream), "cudaStreamDestroy");
  }
}

/// range(0): bytes; range(1): 0 host-to-device, 1 device-to-host, 2
/// device-to-device (the device's own copy rate); range(2): 1 pinned host
/// memory, 0 pageable; range(3): 0 cudaMemcpyAsync on a stream, as the pools'
/// copies run, 1 the reference: a plain synchronous cudaMemcpy, as CUDA's
/// bandwidthTest measures the link's peak.
void BM_Copy(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto direction = state.range(1);
  const bool reference = state.range(3) != 0;
  const bool pinned = state.range(2) != 0;
  check(cudaSetDevice(0), "cudaSetDevice");
  void* device = nullptr;
  void* other = nullptr;
  check(cudaMalloc(&device, size), "cudaMalloc");
  check(cudaMalloc(&other, size), "cudaMalloc");
  void* host = nullptr;
  if (pinned) {
    check(cudaHostAlloc(&host, size, cudaHostAllocPortable), "cudaHostAlloc");
  } else {
    host = std::malloc(size);
  }
  // Touch every page: pageable memory would otherwise fault during the first copy.
  for (std::size_t offset = 0; offset < size; offset += 4096) static_cast<unsigned char*>(host)[offset] = 1;
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  void* dst = direction == 0 ? device : direction == 1 ? host : other;
  const void* src = direction == 0 ? host : device;
  const cudaMemcpyKind kind = direction == 0   ? cudaMemcpyHostToDevice
                              : direction == 1 ? cudaMemcpyDeviceToHost
                                               : cudaMemcpyDeviceToDevice;
  for (auto _ : state) {
    if (reference) {
      check(cudaMemcpy(dst, src, size, kind), "cudaMemcpy");
    } else {
      check(cudaMemcpyAsync(dst, src, size, kind, stream), "cudaMemcpyAsync");
      check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(size));
  check(cudaStreamDestroy(stream), "cudaStreamDestroy");
  if (pinned) {
    check(cudaFreeHost(host), "cudaFreeHost");
  } else {
    std::free(host);
  }
  check(cudaFree(device), "cudaFree");
  check(cudaFree(other), "cudaFree");
}

void sizes_and_streams(benchmark::internal::Benchmark* b) {
  for (std::int64_t streams : {1, 4}) {
    for (std::int64_t size = 256; size <= (std::int64_t{256} << 20); size *= 16) b->Args({size, streams});
  }
}

BENCHMARK(BM_DevicePool)->ArgNames({"bytes", "streams"})->Apply(sizes_and_streams);
BENCHMARK(BM_CudaMalloc)->ArgNames({"bytes", "streams"})->Apply(sizes_and_streams);
BENCHMARK(BM_CudaMallocAsync)->ArgNames({"bytes", "streams"})->Apply(sizes_and_streams);
// The peak a pinned async H2D copy is held against is the best reference
// (synchronous, pinned) H2D rate over these sizes.
BENCHMARK(BM_Copy)
    ->ArgNames({"bytes", "direction", "pinned", "reference"})
    ->ArgsProduct({{std::int64_t{1} << 20, std::int64_t{64} << 20, std::int64_t{256} << 20}, {0, 1}, {0, 1}, {0}})
    ->ArgsProduct({{std::int64_t{64} << 20, std::int64_t{256} << 20}, {0, 1}, {1}, {1}})
    ->Args({std::int64_t{64} << 20, 2, 1, 0})
    ->UseRealTime();

void describe_machine() {
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  int driver = 0;
  int runtime_version = 0;
  check(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  check(cudaRuntimeGetVersion(&runtime_version), "cudaRuntimeGetVersion");
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  benchmark::AddCustomContext("gpu", properties.name);
  benchmark::AddCustomContext("cuda_driver", std::to_string(driver));
  benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime_version));
  benchmark::AddCustomContext("gpu_memory", std::to_string(total_bytes >> 20) + " MiB total, " +
                                                std::to_string(free_bytes >> 20) + " MiB free at start");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (runtime()->device_count() == 0) {
    std::printf("gpu_alloc_bench: skipped: no CUDA device: %s\n", gpu::cuda_unavailable_reason());
    return 0;
  }
  describe_machine();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
