// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness: VariablePool at every safety level and thread-safety
// mode, checked against the reference model (pool_model.hpp).
#include <cstddef>
#include <cstdint>

#include "nativepool/host_backend.hpp"
#include "nativepool/math.hpp"
#include "nativepool/pool_factory.hpp"
#include "../native/size_classes.hpp"
#include "pool_model.hpp"

namespace {

using namespace nativepool;

// Small arenas and a cap, so that a short input reaches growth, dedicated
// arenas for large requests, exhaustion and trim; or 1 MiB arenas, the
// smallest with slab classes (sizes up to 4 KiB from slabs).
constexpr std::size_t kArena = std::size_t{256} << 10;
constexpr std::size_t kSlabArena = std::size_t{1} << 20;
constexpr std::size_t kMaxBytes = std::size_t{4} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider data(bytes, size);
  const auto level = static_cast<SafetyLevel>(data.ConsumeIntegralInRange<int>(0, 2));
  const auto mode = data.ConsumeBool() ? ThreadSafety::kMutex : ThreadSafety::kNone;
  VariablePoolConfig config;
  const bool slabs = data.ConsumeBool();
  config.arena_size = slabs ? kSlabArena : kArena;
  config.granularity = std::size_t{16} << data.ConsumeIntegralInRange<unsigned>(0, 4);
  config.max_bytes = kMaxBytes;

  fuzz::PoolUnderTest put;
  if (make_variable_pool(config, mode, std::make_shared<MallocBackend>(), &put.pool, level) != Status::kOk) {
    fuzz::finding("could not build the pool");
  }
  const std::size_t granularity = config.granularity;
  // Guarded, a block counts its size rounded to the granularity, even where
  // the unguarded pool counts a slab class's size (WithCanaries::counted_size).
  const bool classes = slabs && level == SafetyLevel::kOff;
  put.counted_size = [granularity, classes](std::size_t n) {
    return classes ? testing_support::expected_block_size(n, granularity) : round_up(n, granularity);
  };
  put.next_size = [](FuzzedDataProvider& d) {
    // Mostly within the slab classes, sometimes larger than an arena.
    return d.ConsumeBool() ? d.ConsumeIntegralInRange<std::size_t>(1, 4608)
                           : d.ConsumeIntegralInRange<std::size_t>(1, 2 * kArena);
  };
  put.max_alignment_log2 = 12;
  fuzz::Model(std::move(put)).run(data);
  return 0;
}
