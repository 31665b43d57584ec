// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness: PersistentHeap::open on damaged heap files.
//
// The input does not carry a whole heap file (those are 64 KiB and more):
// it picks one of a few valid heaps the harness builds on its first run
// (fresh, with blocks, grown, mid-transaction, and a free stopped at each of
// its persist points, so that open replays a live redo log), patches it
// with (offset, byte) pairs, maybe cuts its tail, and writes it to a file.
// An open that succeeds must validate(), survive a few operations chosen by
// the input's tail and reopen after close; a refusal must carry a detail and
// leave the file byte for byte unchanged.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "nativepool/persistent_heap.hpp"
#include "pool_model.hpp"

namespace {

using nativepool::PersistentHeap;
using nativepool::PersistentOptions;
using nativepool::Status;
using nativepool::fuzz::check;
using nativepool::fuzz::finding;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kSlots = 8;  // few roots, so that frees find blocks

Bytes read_file(const std::string& path) {
  Bytes bytes;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) finding("cannot read the heap file");
  std::uint8_t chunk[1 << 16];
  for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) bytes.insert(bytes.end(), chunk, chunk + n);
  ::close(fd);
  return bytes;
}

void write_file(const std::string& path, const std::uint8_t* bytes, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, bytes, size) != static_cast<ssize_t>(size)) finding("cannot write the heap file");
  ::close(fd);
}

// A per-process directory, in memory where /dev/shm exists: every input
// writes a file of 64 KiB or more.
struct Scratch {
  std::string dir;
  std::string heap;
  Scratch() {
    char pattern[] = "/dev/shm/persistent_open_fuzz.XXXXXX";
    char fallback[] = "/tmp/persistent_open_fuzz.XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (made == nullptr) made = ::mkdtemp(fallback);
    if (made == nullptr) finding("cannot make a scratch directory");
    dir = made;
    heap = dir + "/heap";
  }
  ~Scratch() {
    ::unlink(heap.c_str());
    ::rmdir(dir.c_str());
  }
};

// Copies the file at every persist point of the heap it observes.
class Recorder final : public nativepool::PersistObserver {
 public:
  Recorder(const std::string& path, std::vector<Bytes>* images) : path_(path), images_(images) {}
  void flushed(std::uint64_t, std::uint64_t) noexcept override {}
  void drained() noexcept override {
    if (recording) images_->push_back(read_file(path_));
  }
  bool recording = false;

 private:
  const std::string& path_;
  std::vector<Bytes>* images_;
};

void must(Status status, const char* what) { check(status == Status::kOk, what); }

std::vector<Bytes> build_bases(const std::string& path) {
  std::vector<Bytes> bases;
  Recorder recorder(path, &bases);
  PersistentOptions options;
  options.capacity = PersistentHeap::kMinCapacity;
  options.undo_log_bytes = 4096;
  options.observer = &recorder;
  std::unique_ptr<PersistentHeap> heap;
  must(PersistentHeap::create(path.c_str(), options, &heap), "create a base heap");
  bases.push_back(read_file(path));  // fresh
  std::uint64_t block = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    must(heap->allocate(24 + i * 100, PersistentHeap::root_slot(i), &block), "allocate in a base heap");
  }
  must(heap->allocate(64, block + 8, &block), "allocate into a block");  // a field, not a root
  must(heap->free(PersistentHeap::root_slot(2)), "free in a base heap");
  bases.push_back(read_file(path));  // with blocks
  recorder.recording = true;         // a free stopped at each persist point
  must(heap->free(PersistentHeap::root_slot(3)), "free in a base heap");
  recorder.recording = false;
  must(heap->grow(2 * PersistentHeap::kMinCapacity), "grow a base heap");
  must(heap->allocate(20000, PersistentHeap::root_slot(3), &block), "allocate in the new segment");
  bases.push_back(read_file(path));  // grown
  must(heap->begin(), "begin");
  must(heap->snapshot(block, 0, 64), "snapshot");
  std::memset(heap->address(block), 0xA5, 64);
  must(heap->tx_allocate(100, &block), "tx_allocate");
  must(heap->tx_set_root(2, block), "tx_set_root");
  must(heap->tx_free(heap->root(0)), "tx_free");
  bases.push_back(read_file(path));  // mid-transaction; closing rolls it back
  heap.reset();
  ::unlink(path.c_str());
  return bases;
}

// A refused call names its cause and changes no figure of the heap.
void refused_cleanly(Status status, const nativepool::PersistentStats& before, const PersistentHeap& heap) {
  if (status == Status::kOk) return;
  check(*nativepool::error_detail() != '\0', "a refused operation has no detail");
  const nativepool::PersistentStats after = heap.stats();
  check(after.live_blocks == before.live_blocks && after.bytes_in_use == before.bytes_in_use &&
            after.free_bytes == before.free_bytes && after.capacity == before.capacity,
        "a refused operation changed the heap's figures");
}

bool held_twice(const PersistentHeap& heap, std::size_t slot) {
  for (std::size_t i = 0; i < PersistentHeap::kRoots; ++i) {
    if (i != slot && heap.root(i) != 0 && heap.root(i) == heap.root(slot)) return true;
  }
  return false;
}

void exercise(PersistentHeap& heap, FuzzedDataProvider& data, std::size_t operations) {
  for (std::size_t i = 0; i < operations; ++i) {
    const auto op = data.ConsumeIntegral<std::uint8_t>();
    const std::size_t slot = (op >> 2) % kSlots;
    const std::uint64_t size = 1 + (op >> 2) * 24ULL;
    const nativepool::PersistentStats before = heap.stats();
    nativepool::clear_error_detail();
    std::uint64_t block = 0;
    switch (op & 3) {
      case 0:
        refused_cleanly(heap.allocate(size, PersistentHeap::root_slot(slot), &block), before, heap);
        break;
      case 1:
        // A patched file may hold one block in two roots (as tx_set_root
        // can): freeing it through one would leave the other dangling, a
        // misuse that validate() rightly reports.
        if (!held_twice(heap, slot)) refused_cleanly(heap.free(PersistentHeap::root_slot(slot)), before, heap);
        break;
      case 2: {
        must(heap.begin(), "begin on an opened heap");
        Status status = heap.tx_allocate(size, &block);
        if (status == Status::kOk) status = heap.tx_set_root(slot, block);
        check(status == Status::kOk || *nativepool::error_detail() != '\0', "a refused tx step has no detail");
        refused_cleanly((op & 0x80) != 0 && status == Status::kOk ? heap.commit() : heap.abort(), before, heap);
        break;
      }
      default:
        refused_cleanly(heap.grow(heap.capacity() + PersistentHeap::kMinCapacity), before, heap);
        break;
    }
    if (heap.validate() != Status::kOk) finding("validate() fails after an operation");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  static Scratch scratch;
  static const std::vector<Bytes> bases = build_bases(scratch.heap);
  FuzzedDataProvider data(bytes, size);
  Bytes file = bases[data.ConsumeIntegralInRange<std::size_t>(0, bases.size() - 1)];
  const auto cut = data.ConsumeIntegral<std::uint8_t>();
  const std::size_t operations = data.ConsumeIntegralInRange<std::size_t>(0, 8);
  // Patches come from the front, the operations from the tail (FuzzedDataProvider
  // takes integers from the end).
  const std::size_t patches = data.remaining_bytes() > operations ? (data.remaining_bytes() - operations) / 4 : 0;
  for (std::size_t i = 0; i < patches; ++i) {
    const std::uint8_t* patch = bytes + 4 * i;
    const std::size_t at = (patch[0] | patch[1] << 8 | patch[2] << 16) % file.size();
    file[at] = patch[3];
  }
  if (cut >= 0xF0) file.resize(file.size() - (cut - 0xEFU) * 512);  // short by 512 B .. 8 KiB
  write_file(scratch.heap, file.data(), file.size());

  PersistentOptions options;
  std::unique_ptr<PersistentHeap> heap;
  nativepool::clear_error_detail();
  const Status opened = PersistentHeap::open(scratch.heap.c_str(), options, &heap);
  if (opened != Status::kOk) {
    check(heap == nullptr, "a refused open handed out a heap");
    check(*nativepool::error_detail() != '\0', "a refused open has no detail");
    if (read_file(scratch.heap) != file) finding("a refused open changed the file");
    return 0;
  }
  if (heap->validate() != Status::kOk) finding("an opened heap fails validate()");
  exercise(*heap, data, operations);
  heap.reset();
  if (PersistentHeap::open(scratch.heap.c_str(), options, &heap) != Status::kOk) {
    finding("a heap closed cleanly does not reopen");
  }
  if (heap->validate() != Status::kOk) finding("a reopened heap fails validate()");
  return 0;
}
