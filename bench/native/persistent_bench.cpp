// SPDX-License-Identifier: Apache-2.0
// PersistentHeap against PMDK's libpmemobj (when the bench build finds it),
// side by side on the same file system: allocate + free (each publishing or
// clearing a persistent offset atomically), write 4 KiB + publish, and 64-byte
// and 4 KiB transactional updates. NATIVEPOOL_BENCH_DIR picks the directory
// (default /dev/shm); run once on tmpfs and once on a disk. Counters: bytes
// named to flush and persist points per operation (nativepool's own figures;
// libpmemobj exposes none). bench/results/persistent/ has the runs.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "nativepool/persistent_heap.hpp"

#if defined(NATIVEPOOL_HAVE_PMEMOBJ)
#include <libpmemobj.h>
#endif

namespace {

using nativepool::PersistentHeap;
using nativepool::Status;

constexpr std::uint64_t kCapacity = 64 << 20;

std::string bench_file(const char* name) {
  const char* dir = std::getenv("NATIVEPOOL_BENCH_DIR");
  std::string path = std::string(dir != nullptr ? dir : "/dev/shm") + "/np-bench-" + name;
  std::remove(path.c_str());
  return path;
}

struct Heap {
  explicit Heap(benchmark::State& state, bool group_commit = false) : path(bench_file("heap")) {
    nativepool::PersistentOptions options;
    options.capacity = kCapacity;
    options.group_commit = group_commit;
    if (PersistentHeap::create(path.c_str(), options, &heap) != Status::kOk) {
      state.SkipWithError(nativepool::error_detail());
    }
  }
  ~Heap() {
    heap.reset();
    std::remove(path.c_str());
  }
  void count(benchmark::State& state, const nativepool::PersistentStats& before) const {
    const nativepool::PersistentStats after = heap->stats();
    const double ops = static_cast<double>(state.iterations());
    state.counters["flushed_B/op"] = static_cast<double>(after.flushed_bytes - before.flushed_bytes) / ops;
    state.counters["persists/op"] = static_cast<double>(after.persist_points - before.persist_points) / ops;
    state.counters["ops/s"] = benchmark::Counter(ops, benchmark::Counter::kIsRate);
  }
  std::string path;
  std::unique_ptr<PersistentHeap> heap;
};

void BM_Nativepool_AllocateFree(benchmark::State& state) {
  Heap h(state);
  if (!h.heap) return;
  const auto before = h.heap->stats();
  for (auto _ : state) {
    std::uint64_t block = 0;
    if (h.heap->allocate(64, PersistentHeap::root_slot(0), &block) != Status::kOk ||
        h.heap->free(PersistentHeap::root_slot(0)) != Status::kOk) {
      state.SkipWithError(nativepool::error_detail());
      break;
    }
  }
  h.count(state, before);
}

void BM_Nativepool_Publish4K(benchmark::State& state) {
  Heap h(state);
  if (!h.heap) return;
  const auto before = h.heap->stats();
  for (auto _ : state) {
    nativepool::PersistentReservation reservation;
    if (h.heap->reserve(4096, &reservation) != Status::kOk) break;
    std::memset(h.heap->address(reservation.offset), 0x5A, 4096);
    if (h.heap->publish(reservation, PersistentHeap::root_slot(0)) != Status::kOk ||
        h.heap->free(PersistentHeap::root_slot(0)) != Status::kOk) {
      state.SkipWithError(nativepool::error_detail());
      break;
    }
  }
  h.count(state, before);
}

void BM_Nativepool_TxUpdate(benchmark::State& state) {
  const auto size = static_cast<std::uint64_t>(state.range(0));
  Heap h(state, state.range(1) != 0);
  if (!h.heap) return;
  std::uint64_t block = 0;
  if (h.heap->allocate(size, PersistentHeap::root_slot(0), &block) != Status::kOk) return;
  const auto before = h.heap->stats();
  unsigned char value = 0;
  for (auto _ : state) {
    if (h.heap->begin() != Status::kOk || h.heap->snapshot(block, 0, size) != Status::kOk) break;
    std::memset(h.heap->address(block), ++value, size);
    if (h.heap->commit() != Status::kOk) break;
  }
  h.count(state, before);
}

BENCHMARK(BM_Nativepool_AllocateFree)->UseRealTime();
BENCHMARK(BM_Nativepool_Publish4K)->UseRealTime();
BENCHMARK(BM_Nativepool_TxUpdate)->ArgNames({"bytes", "group"})->Args({64, 0})->Args({4096, 0})->Args({64, 1})->UseRealTime();

#if defined(NATIVEPOOL_HAVE_PMEMOBJ)
struct Root {
  PMEMoid field;
};

struct Pmemobj {
  explicit Pmemobj(benchmark::State& state) : path(bench_file("pmemobj")) {
    pool = pmemobj_create(path.c_str(), "bench", kCapacity, 0600);
    if (pool == nullptr) {
      state.SkipWithError(pmemobj_errormsg());
      return;
    }
    root = static_cast<Root*>(pmemobj_direct(pmemobj_root(pool, sizeof(Root))));
  }
  ~Pmemobj() {
    if (pool != nullptr) pmemobj_close(pool);
    std::remove(path.c_str());
  }
  static void rate(benchmark::State& state) {
    state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  }
  std::string path;
  PMEMobjpool* pool = nullptr;
  Root* root = nullptr;
};

void BM_Pmemobj_AllocateFree(benchmark::State& state) {
  Pmemobj p(state);
  if (p.pool == nullptr) return;
  for (auto _ : state) {
    // pmemobj_zalloc into a persistent PMEMoid, pmemobj_free clearing it:
    // the same atomic publish and clear.
    if (pmemobj_zalloc(p.pool, &p.root->field, 64, 0) != 0) {
      state.SkipWithError(pmemobj_errormsg());
      break;
    }
    pmemobj_free(&p.root->field);
  }
  Pmemobj::rate(state);
}

int fill_4k(PMEMobjpool* pool, void* block, void*) {
  pmemobj_memset_persist(pool, block, 0x5A, 4096);
  return 0;
}

void BM_Pmemobj_Publish4K(benchmark::State& state) {
  Pmemobj p(state);
  if (p.pool == nullptr) return;
  for (auto _ : state) {
    // The constructor writes and persists the block before it is published.
    if (pmemobj_alloc(p.pool, &p.root->field, 4096, 0, fill_4k, nullptr) != 0) {
      state.SkipWithError(pmemobj_errormsg());
      break;
    }
    pmemobj_free(&p.root->field);
  }
  Pmemobj::rate(state);
}

// TX_BEGIN is a setjmp: the transaction lives in a function of its own whose
// locals are never changed after it.
[[gnu::noinline]] void pmemobj_tx_update(PMEMobjpool* pool, PMEMoid block, void* bytes, std::size_t size,
                                         int value) {
  TX_BEGIN(pool) {
    pmemobj_tx_add_range(block, 0, size);
    std::memset(bytes, value, size);
  }
  TX_END
}

void BM_Pmemobj_TxUpdate(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Pmemobj p(state);
  if (p.pool == nullptr) return;
  if (pmemobj_zalloc(p.pool, &p.root->field, size, 0) != 0) return;
  void* bytes = pmemobj_direct(p.root->field);
  int value = 0;
  for (auto _ : state) pmemobj_tx_update(p.pool, p.root->field, bytes, size, ++value & 0xFF);
  Pmemobj::rate(state);
}

BENCHMARK(BM_Pmemobj_AllocateFree)->UseRealTime();
BENCHMARK(BM_Pmemobj_Publish4K)->UseRealTime();
BENCHMARK(BM_Pmemobj_TxUpdate)->ArgName("bytes")->Arg(64)->Arg(4096)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
