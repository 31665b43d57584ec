// SPDX-License-Identifier: Apache-2.0
// Host memory per live block, measured by resident memory: each size runs in
// a child process that allocates N blocks without touching them and reports
// how much its resident set grew. A VariablePool keeps every byte of its
// metadata outside the blocks, so its growth is all metadata; malloc keeps
// headers next to the blocks, so its growth is the pages those headers
// touch. Run it once as is (nativepool and glibc) and once per allocator
// with LD_PRELOAD (bench/scripts/run_native.sh).
//
// Usage: metadata_bench [pool|malloc]   (both when omitted)
// Output: CSV, one line per allocator and size:
//   allocator,size,blocks,rss_growth_bytes,bytes_per_block,first_block_bytes,bytes_per_further_block
// bytes_per_block is the whole growth over the blocks. The first block also
// pays for what an allocator sets up once (a pool's directories and tables,
// a malloc arena's first pages), so the growth is split too: the first
// block's, and the rest's per block, the cost each further live block adds.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "allocators.hpp"
#include "nativepool/pool_factory.hpp"
#include "resident.hpp"

namespace {

constexpr std::size_t kSizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536};

using bench::resident_bytes;

// 2 Mi blocks, or fewer for large sizes: 256 MiB of address space at most.
std::size_t blocks_for(std::size_t size) { return std::min<std::size_t>(std::size_t{2} << 20, (256u << 20) / size); }

// Runs in the child: the table of pointers is made and touched first, so it
// is not counted.
template <class Allocate>
void measure(const char* label, std::size_t size, Allocate&& allocate) {
  const std::size_t n = blocks_for(size);
  std::vector<void*> blocks(n, reinterpret_cast<void*>(1));
  const std::size_t before = resident_bytes();
  std::size_t after_first = before;
  for (void*& block : blocks) {
    block = allocate(size);
    if (block == nullptr) {
      std::fprintf(stderr, "%s: allocation of %zu bytes failed\n", label, size);
      std::exit(1);
    }
    if (&block == &blocks.front()) after_first = resident_bytes();
  }
  const std::size_t growth = resident_bytes() - before;
  const std::size_t first = after_first - before;
  std::printf("%s,%zu,%zu,%zu,%.2f,%zu,%.2f\n", label, size, n, growth,
              static_cast<double>(growth) / static_cast<double>(n), first,
              static_cast<double>(growth - first) / static_cast<double>(n - 1));
  std::fflush(stdout);
}

void run_pool(std::size_t size) {
  std::unique_ptr<nativepool::Pool> pool;
  if (nativepool::make_variable_pool(nativepool::VariablePoolConfig{}, nativepool::ThreadSafety::kMutex,
                                     std::make_shared<nativepool::MmapBackend>(), &pool) != nativepool::Status::kOk) {
    std::fprintf(stderr, "%s\n", nativepool::error_detail());
    std::exit(1);
  }
  bench::Erased erased(std::move(pool));
  measure("nativepool", size, [&](std::size_t s) { return erased.allocate(s); });
}

void run_malloc(std::size_t size) {
  const std::string name = bench::Malloc::name();
  measure(name.c_str(), size, [](std::size_t s) { return bench::Malloc::allocate(s); });
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "both";
  std::printf("allocator,size,blocks,rss_growth_bytes,bytes_per_block,first_block_bytes,bytes_per_further_block\n");
  std::fflush(stdout);
  for (const bool pool : {true, false}) {
    if ((pool && which == "malloc") || (!pool && which == "pool")) continue;
    for (const std::size_t size : kSizes) {
      const pid_t child = fork();
      if (child == 0) {
        pool ? run_pool(size) : run_malloc(size);
        std::_Exit(0);
      }
      int status = 0;
      if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "the measurement of %zu-byte blocks failed\n", size);
        return 1;
      }
    }
  }
  return 0;
}
