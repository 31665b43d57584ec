// SPDX-License-Identifier: Apache-2.0
// Replays an allocation trace (generate_trace.py, or one recorded with
// libmalloc_log.so) against VariablePool or against malloc, and writes the
// memory figures over time as CSV to stdout; progress goes to stderr.
//
//   trace_replay pool [capacity-bytes] < trace > pool.csv
//   LD_PRELOAD=libjemalloc.so.2 trace_replay malloc < trace > jemalloc.csv
//
// Footprint: for the pool, the bytes it reserved from its backend (what it
// reports; an upper bound on what is resident). malloc implementations report
// different things, so for them the footprint is the growth of the process's
// resident set, with every page of every block touched as a program would.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "allocators.hpp"
#include "nativepool/variable_pool.hpp"
#include "resident.hpp"

namespace {

using bench::resident_bytes;

void touch(void* ptr, std::size_t size) {
  auto* bytes = static_cast<volatile char*>(ptr);
  for (std::size_t offset = 0; offset < size; offset += 4096) bytes[offset] = 1;
  bytes[size - 1] = 1;
}

struct Figures {
  std::size_t footprint = 0;
  std::size_t free_bytes = 0;
  std::size_t largest_free = 0;
  double external_fragmentation = 0.0;
  bool has_free_space_figures = false;
};

class Subject {
 public:
  virtual ~Subject() = default;
  virtual void* allocate(std::size_t size) = 0;
  virtual void deallocate(void* ptr) = 0;
  virtual Figures figures() = 0;
  virtual std::string name() const = 0;
};

class PoolSubject final : public Subject {
 public:
  // Arenas should be small next to the live set, so that reserved memory can
  // follow it: the pool reserves whole arenas, and a live set just past an
  // arena boundary costs a whole arena more. Larger requests get arenas of
  // their own.
  PoolSubject(std::size_t capacity, std::size_t arena_size) {
    nativepool::VariablePoolConfig config;
    config.arena_size = arena_size;
    config.max_bytes = capacity;
    if (nativepool::VariablePool<nativepool::ThreadSafety::kNone>::create(
            config, std::make_shared<nativepool::MmapBackend>(), &pool_) != nativepool::Status::kOk) {
      throw std::runtime_error(nativepool::error_detail());
    }
  }
  void* allocate(std::size_t size) override {
    void* out = nullptr;
    return pool_->allocate(size, 0, &out) == nativepool::Status::kOk ? out : nullptr;
  }
  void deallocate(void* ptr) override { (void)pool_->deallocate(ptr, nullptr); }
  Figures figures() override {
    // A long-running program using a pool trims it now and then; sampling is
    // when this one does.
    pool_->trim();
    const auto frag = pool_->fragmentation();
    return {pool_->reservation().bytes, frag.free_bytes, frag.largest_free_block, frag.external_fragmentation, true};
  }
  std::string name() const override { return "nativepool"; }

 private:
  std::unique_ptr<nativepool::VariablePool<nativepool::ThreadSafety::kNone>> pool_;
};

class MallocSubject final : public Subject {
 public:
  // Reading the trace freed memory that is still resident; each allocator
  // returns it first, so that the replay's footprint starts from zero.
  MallocSubject() {
    if (auto* trim = reinterpret_cast<int (*)(std::size_t)>(dlsym(RTLD_DEFAULT, "malloc_trim"))) trim(0);
    if (auto* ctl = reinterpret_cast<int (*)(const char*, void*, std::size_t*, void*, std::size_t)>(
            dlsym(RTLD_DEFAULT, "mallctl"))) {
      ctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // 4096: MALLCTL_ARENAS_ALL
    }
    if (auto* collect = reinterpret_cast<void (*)(bool)>(dlsym(RTLD_DEFAULT, "mi_collect"))) collect(true);
  }
  void* allocate(std::size_t size) override { return bench::Malloc::allocate(size); }
  void deallocate(void* ptr) override { bench::Malloc::deallocate(ptr); }
  Figures figures() override { return {}; }  // the resident set is the footprint
  std::string name() const override { return bench::Malloc::name(); }
};

struct Op {
  char kind;  // '+', '-' or '#'
  std::uint64_t key;
  std::size_t size;
  std::string phase;
};

std::vector<Op> read_trace(std::istream& in) {
  std::vector<Op> ops;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 3) continue;
    Op op{line[0], 0, 0, {}};
    if (op.kind == '#') {
      op.phase = line.substr(2);
    } else {
      char* end = nullptr;
      op.key = std::strtoull(line.c_str() + 2, &end, 0);
      if (op.kind == '+') op.size = std::strtoull(end, nullptr, 10);
      if (op.kind == '+' && op.size == 0) continue;
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (std::strcmp(argv[1], "pool") != 0 && std::strcmp(argv[1], "malloc") != 0)) {
    std::fprintf(stderr, "usage: %s pool [capacity-bytes [arena-bytes]] | malloc  < trace > csv\n", argv[0]);
    return 2;
  }
  const std::vector<Op> ops = read_trace(std::cin);
  std::unique_ptr<Subject> subject;
  if (std::strcmp(argv[1], "pool") == 0) {
    constexpr std::size_t kDefaultArena = std::size_t{8} << 20;
    subject = std::make_unique<PoolSubject>(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0,
                                            argc > 3 ? std::strtoull(argv[3], nullptr, 10) : kDefaultArena);
  } else {
    subject = std::make_unique<MallocSubject>();
  }

  const std::size_t baseline = resident_bytes();
  const std::size_t sample_every = ops.size() / 400 + 1;
  const std::size_t progress_every = ops.size() / 10 + 1;
  std::unordered_map<std::uint64_t, std::pair<void*, std::size_t>> live;
  std::string phase = "-";
  std::size_t live_bytes = 0;
  std::size_t peak_live = 0;
  std::size_t failures = 0;
  std::printf("allocator,phase,op,live_bytes,peak_live_bytes,footprint_bytes,efficiency,free_bytes,"
              "largest_free_block,external_fragmentation,failures,resident_bytes\n");
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    if (op.kind == '#') {
      phase = op.phase;
    } else if (op.kind == '+') {
      void* ptr = subject->allocate(op.size);
      if (ptr == nullptr) {
        ++failures;
      } else {
        touch(ptr, op.size);
        live[op.key] = {ptr, op.size};
        live_bytes += op.size;
        if (live_bytes > peak_live) peak_live = live_bytes;
      }
    } else if (auto it = live.find(op.key); it != live.end()) {
      subject->deallocate(it->second.first);
      live_bytes -= it->second.second;
      live.erase(it);
    }
    if (i % sample_every == 0 || i + 1 == ops.size()) {
      Figures f = subject->figures();
      const std::size_t now = resident_bytes();
      const std::size_t resident = now > baseline ? now - baseline : 0;
      if (!f.has_free_space_figures) f.footprint = resident;
      const double efficiency = f.footprint == 0 ? 1.0 : static_cast<double>(live_bytes) / static_cast<double>(f.footprint);
      if (f.has_free_space_figures) {
        std::printf("%s,%s,%zu,%zu,%zu,%zu,%.4f,%zu,%zu,%.4f,%zu,%zu\n", subject->name().c_str(), phase.c_str(), i,
                    live_bytes, peak_live, f.footprint, efficiency, f.free_bytes, f.largest_free,
                    f.external_fragmentation, failures, resident);
      } else {
        std::printf("%s,%s,%zu,%zu,%zu,%zu,%.4f,,,,%zu,%zu\n", subject->name().c_str(), phase.c_str(), i, live_bytes,
                    peak_live, f.footprint, efficiency, failures, resident);
      }
    }
    if (i % progress_every == 0) {
      std::fprintf(stderr, "\r%s: %zu%% of %zu operations", subject->name().c_str(), i * 100 / ops.size(), ops.size());
    }
  }
  std::fprintf(stderr, "\r%s: done, %zu operations, %zu failures\n", subject->name().c_str(), ops.size(), failures);
  return 0;
}
