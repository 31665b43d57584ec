// SPDX-License-Identifier: Apache-2.0
// The machine without NUMA, as the container and no-libnuma ctest cases make
// it: numa_unavailable_check EXPECTED-REASON-PART. Checks that NUMA reports
// unavailable with that reason, that every NUMA call fails cleanly, that host
// pools still work, and that nothing was written on stderr meanwhile.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "nativepool/backends.hpp"
#include "nativepool/features.hpp"
#include "nativepool/numa.hpp"
#include "nativepool/numa_backend.hpp"
#include "nativepool/pool_factory.hpp"

namespace {

int failures = 0;

void check(bool ok, const char* what, const char* detail = "") {
  if (!ok) {
    std::printf("FAILED: %s %s\n", what, detail);
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nativepool;
  if (argc != 2) {
    std::printf("usage: %s EXPECTED-REASON-PART\n", argv[0]);
    return 2;
  }
  // Everything libnuma or we might print on stderr lands in this file.
  std::FILE* captured = std::tmpfile();
  const int saved_stderr = ::dup(STDERR_FILENO);
  if (captured == nullptr || saved_stderr < 0 || ::dup2(::fileno(captured), STDERR_FILENO) < 0) {
    std::printf("cannot capture stderr\n");
    return 2;
  }

  const Features features = probe_features();
  check(features.numa_compiled, "numa_compiled");
  check(!features.numa_available, "numa_available is false");
  check(features.numa_nodes == 0, "numa_nodes is 0");
  check(std::strstr(features.numa_unavailable_reason, argv[1]) != nullptr, "reason names the cause:",
        features.numa_unavailable_reason);

  NumaTopology topology;
  check(numa_topology(&topology) == Status::kFeatureUnavailable, "numa_topology is kFeatureUnavailable");
  check(std::strncmp(error_detail(), "NUMA unavailable: ", 18) == 0, "detail starts NUMA unavailable:",
        error_detail());
  std::shared_ptr<NumaBackend> numa;
  check(NumaBackend::create({NumaPolicy::kBind, {0}}, &numa) == Status::kFeatureUnavailable,
        "a NUMA backend is kFeatureUnavailable");
  int id = -1;
  check(register_numa_spec({NumaPolicy::kLocal, {}}, &id) == Status::kFeatureUnavailable,
        "a NUMA spec is kFeatureUnavailable");
  NumaPlacement placement;
  check(numa_placement(&placement, sizeof placement, &placement) == Status::kFeatureUnavailable,
        "placement is kFeatureUnavailable");

  std::shared_ptr<Backend> host;
  std::unique_ptr<Pool> pool;
  FixedPoolConfig config;
  config.block_size = 64;
  check(make_backend(BackendType::kMmap, 0, &host) == Status::kOk, "an mmap backend");
  check(make_fixed_pool(config, ThreadSafety::kMutex, host, &pool) == Status::kOk, "a host pool");
  void* block = nullptr;
  check(pool != nullptr && pool->allocate(64, 16, &block) == Status::kOk && pool->deallocate(block) == Status::kOk,
        "the host pool allocates and frees");

  std::fflush(stderr);
  ::dup2(saved_stderr, STDERR_FILENO);
  const long written = std::ftell(captured);
  check(written == 0, "nothing on stderr");
  if (written > 0) {
    char text[512] = {};
    std::rewind(captured);
    std::printf("stderr: %s\n", std::fgets(text, sizeof text, captured));
  }
  std::printf("%s: NUMA unavailable: %s\n", failures == 0 ? "ok" : "FAILED", features.numa_unavailable_reason);
  return failures == 0 ? 0 : 1;
}
