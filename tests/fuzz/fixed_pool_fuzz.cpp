// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness: FixedPool at every safety level and thread-safety mode,
// checked against the reference model (pool_model.hpp).
#include <cstddef>
#include <cstdint>

#include "nativepool/host_backend.hpp"
#include "nativepool/math.hpp"
#include "nativepool/pool_factory.hpp"
#include "pool_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace nativepool;
  FuzzedDataProvider data(bytes, size);
  const auto level = static_cast<SafetyLevel>(data.ConsumeIntegralInRange<int>(0, 2));
  const auto mode = static_cast<ThreadSafety>(data.ConsumeIntegralInRange<int>(0, 2));
  FixedPoolConfig config;
  config.block_size = data.ConsumeIntegralInRange<std::size_t>(1, 8192);
  config.alignment = std::size_t{1} << data.ConsumeIntegralInRange<unsigned>(0, 12);
  // Small chunks and a cap, so that short inputs reach growth, exhaustion
  // and trim of partly and wholly free chunks.
  config.blocks_per_chunk = std::size_t{1} << data.ConsumeIntegralInRange<unsigned>(0, 5);
  config.max_blocks = data.ConsumeIntegralInRange<std::size_t>(1, 256);

  fuzz::PoolUnderTest put;
  if (make_fixed_pool(config, mode, std::make_shared<MallocBackend>(), &put.pool, level) != Status::kOk) {
    fuzz::finding("could not build the pool");
  }
  const std::size_t stride = round_up(config.block_size, config.alignment);
  const std::size_t block_size = config.block_size;
  put.counted_size = [stride](std::size_t) { return stride; };
  put.next_size = [block_size](FuzzedDataProvider&) { return block_size; };
  put.max_alignment_log2 = 0;  // a fixed pool has one alignment; the model checks it below
  put.required_alignment = config.alignment;
  fuzz::Model(std::move(put)).run(data);
  return 0;
}
