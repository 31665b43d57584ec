// SPDX-License-Identifier: Apache-2.0
// A fixed amount of VariablePool work, for counting instructions under
// callgrind, where wall-clock benchmarks on a shared VM drift by 2x from
// one minute to the next: ITERATIONS free + allocate pairs over 256 live
// blocks of log-uniform sizes in [LOW, HIGH], one thread, VariablePool NONE.
// Run it twice with different ITERATIONS; the difference of the two counts
// over the difference of the iterations is instructions per pair, without
// the setup.
//
// Usage: tlsf_count_bench ITERATIONS LOW HIGH
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null tlsf_count_bench 300000 1100 65536
// Prints "valid" when the pool validates at the end.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/variable_pool.hpp"

int main(int argc, char** argv) {
  using Pool = nativepool::VariablePool<nativepool::ThreadSafety::kNone>;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ITERATIONS LOW HIGH\n", argv[0]);
    return 2;
  }
  const std::size_t iterations = std::strtoull(argv[1], nullptr, 10);
  const double low = std::log2(static_cast<double>(std::strtoull(argv[2], nullptr, 10)));
  const double high = std::log2(static_cast<double>(std::strtoull(argv[3], nullptr, 10)));
  std::unique_ptr<Pool> pool;
  if (Pool::create(nativepool::VariablePoolConfig{}, std::make_shared<nativepool::MmapBackend>(), &pool) !=
      nativepool::Status::kOk) {
    std::fprintf(stderr, "%s\n", nativepool::error_detail());
    return 1;
  }
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(low, high);
  std::vector<std::size_t> sizes(4096);
  for (std::size_t& size : sizes) size = static_cast<std::size_t>(std::exp2(exponent(rng)));
  std::vector<void*> live(256);
  for (std::size_t i = 0; i < live.size(); ++i) {
    if (pool->allocate(sizes[i], 0, &live[i]) != nativepool::Status::kOk) return 1;
  }
  for (std::size_t i = 0; i < iterations; ++i) {
    const std::size_t slot = (i * 7919) & 255;
    if (pool->deallocate(live[slot], nullptr) != nativepool::Status::kOk ||
        pool->allocate(sizes[i & 4095], 0, &live[slot]) != nativepool::Status::kOk) {
      std::fprintf(stderr, "%s\n", nativepool::error_detail());
      return 1;
    }
  }
  const bool valid = pool->validate() == nativepool::Status::kOk;
  std::printf("%s\n", valid ? "valid" : nativepool::error_detail());
  return valid ? 0 : 1;
}
