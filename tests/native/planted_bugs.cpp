// SPDX-License-Identifier: Apache-2.0
// Plants a bug inside a pool for Valgrind memcheck or ASan to find (ctest
// runs it, see CMakeLists.txt).
// Usage: planted_bugs overflow|use-after-free hooks|no-hooks
//
// "hooks" builds the pool the way the factory does under a tool (canaries
// plus WithMemcheck); "no-hooks" uses the bare algorithm, whose blocks are
// parts of one big malloc'd region: the tools then see both bugs as valid
// accesses, which is why the hooks exist.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include "nativepool/host_backend.hpp"
#include "nativepool/safety/safety_stack.hpp"
#include "nativepool/variable_pool.hpp"

namespace {

using namespace nativepool;
using Algorithm = VariablePool<ThreadSafety::kNone>;

std::unique_ptr<Pool> make_pool(bool with_hooks) {
  auto backend = std::make_shared<MallocBackend>();
  SafetyPlan plan;
  if (SafetyPlan::make(with_hooks ? SafetyLevel::kCanaries : SafetyLevel::kOff, *backend, &plan) != Status::kOk) {
    return nullptr;
  }
  std::unique_ptr<Algorithm> algorithm;
  const auto pool_backend = with_hooks ? plan.backend(backend) : backend;
  if (Algorithm::create(VariablePoolConfig{}, pool_backend, &algorithm) != Status::kOk) return nullptr;
  std::unique_ptr<Pool> pool;
  if (with_hooks) {
    if (plan.build(std::move(algorithm), 16, PoolInfo{}, &pool) != Status::kOk) return nullptr;
  } else {
    pool = std::make_unique<ErasedPool<Algorithm>>(std::move(algorithm), PoolInfo{});
  }
  return pool;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s overflow|use-after-free hooks|no-hooks\n", argv[0]);
    return 2;
  }
  const std::string_view bug = argv[1];
  auto pool = make_pool(std::string_view(argv[2]) == "hooks");
  if (pool == nullptr) {
    std::fprintf(stderr, "pool: %s\n", error_detail());
    return 2;
  }
  void* a = nullptr;
  void* b = nullptr;
  if (pool->allocate(64, 0, &a) != Status::kOk || pool->allocate(64, 0, &b) != Status::kOk) return 2;
  volatile unsigned char sink = 0;
  if (bug == "overflow") {
    // One byte too many: without margins that byte is the first of b.
    std::memset(a, 0x41, 65);
  } else {
    std::memset(a, 0x42, 64);
    (void)pool->deallocate(a);
    sink = static_cast<volatile unsigned char*>(a)[8];
  }
  std::printf("planted %s; b=%p sink=%d\n", argv[1], b, sink);
  return 0;
}
