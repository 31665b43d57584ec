// SPDX-License-Identifier: Apache-2.0
// Proof that the fuzzers' reference model (pool_model.hpp) fires: a real
// pool with one bug planted in front of it must be reported, and the same
// program on the unchanged pool must pass. ctest runs one case per bug
// (tests/fuzz/CMakeLists.txt); usage: planted_model_bugs none|overlap|lost-free|scribble
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nativepool/host_backend.hpp"
#include "nativepool/math.hpp"
#include "nativepool/pool_factory.hpp"
#include "pool_model.hpp"

namespace {

using nativepool::Pool;
using nativepool::PoolInfo;
using nativepool::PoolStats;
using nativepool::Status;

enum class Bug { kNone, kOverlap, kLostFree, kScribble };

// Forwards to a correct pool, except for the one planted bug, which starts
// with the third allocation or free so that the model has something to
// compare with.
class Planted final : public Pool {
 public:
  Planted(std::unique_ptr<Pool> pool, Bug bug) : pool_(std::move(pool)), bug_(bug) {}

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    const Status status = pool_->allocate(size, alignment, out);
    if (status != Status::kOk) return status;
    if (++allocations_ == 1) first_ = *out;
    // Hands out a block that is still in use (the real one leaks).
    if (bug_ == Bug::kOverlap && allocations_ == 3) *out = first_;
    // Writes into a live block, as a pool keeping metadata in blocks could.
    if (bug_ == Bug::kScribble && allocations_ == 3) static_cast<unsigned char*>(first_)[0] ^= 0xFF;
    return Status::kOk;
  }

  Status deallocate(void* ptr) noexcept override {
    // Reports success but keeps the block: the counters drift from the model.
    if (bug_ == Bug::kLostFree && ++frees_ == 3) return Status::kOk;
    return pool_->deallocate(ptr);
  }

  Status allocate_batch(std::size_t size, std::size_t alignment, void** out, std::size_t count) noexcept override {
    return pool_->allocate_batch(size, alignment, out, count);
  }
  Status deallocate_batch(void* const* ptrs, std::size_t count, std::size_t* freed) noexcept override {
    return pool_->deallocate_batch(ptrs, count, freed);
  }
  PoolStats stats() const noexcept override { return pool_->stats(); }
  Status validate() const noexcept override { return pool_->validate(); }
  Status verify() const noexcept override { return pool_->verify(); }
  bool leak_report(std::string* out) const noexcept override { return pool_->leak_report(out); }
  Status snapshot(nativepool::MemorySnapshot* out) const noexcept override { return pool_->snapshot(out); }
  std::size_t trim() noexcept override { return pool_->trim(); }
  const PoolInfo& info() const noexcept override { return pool_->info(); }

 private:
  std::unique_ptr<Pool> pool_;
  Bug bug_;
  int allocations_ = 0;
  int frees_ = 0;
  void* first_ = nullptr;
};

bool parse(std::string_view name, Bug* out) {
  if (name == "none") *out = Bug::kNone;
  else if (name == "overlap") *out = Bug::kOverlap;
  else if (name == "lost-free") *out = Bug::kLostFree;
  else if (name == "scribble") *out = Bug::kScribble;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Bug bug = Bug::kNone;
  if (argc != 2 || !parse(argv[1], &bug)) {
    std::fprintf(stderr, "usage: %s none|overlap|lost-free|scribble\n", argv[0]);
    return 2;
  }
  // The model aborts on a finding after printing it; exit instead, so that
  // ctest judges the output rather than counting a crash.
  std::signal(SIGABRT, [](int) { _exit(3); });

  nativepool::VariablePoolConfig config;
  config.arena_size = 1 << 20;
  nativepool::fuzz::PoolUnderTest put;
  std::unique_ptr<Pool> pool;
  if (nativepool::make_variable_pool(config, nativepool::ThreadSafety::kNone,
                                     std::make_shared<nativepool::MallocBackend>(), &pool) != Status::kOk) {
    nativepool::fuzz::finding("could not build the pool");
  }
  put.pool = std::make_unique<Planted>(std::move(pool), bug);
  put.counted_size = [](std::size_t size) { return nativepool::round_up(size, 16); };
  put.next_size = [](FuzzedDataProvider&) { return std::size_t{100}; };
  // An all-zero program: every step is an allocation of 100 bytes; the
  // model then frees every block and checks the end state.
  const std::vector<std::uint8_t> program(16, 0);
  FuzzedDataProvider data(program.data(), program.size());
  nativepool::fuzz::Model(std::move(put)).run(data);
  std::printf("the model found nothing\n");
  return 0;
}
