// SPDX-License-Identifier: Apache-2.0
// Crash consistency of PersistentHeap, three ways:
// - power loss, simulated: every persist point of a workload (grows of the
//   file included) yields the
//   images a power cut could leave (only what was drained is certain; any
//   subset of the other 8-byte words may have reached the media too), and
//   each must recover to the state before or after the operation in flight;
// - kill -9: a child runs the workload and counts what it was told is
//   durable, is killed at a random moment, and the reopened heap must hold
//   exactly that or one operation more;
// - corruption: random byte flips in header, logs, roots and table never
//   crash and are refused with a specific status, leaving the file alone.
// Their names say Stress: Valgrind's run (.ci/valgrind) leaves them out, as
// thousands of reopens under memcheck would take many minutes.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "nativepool/persistent_heap.hpp"
#include "persistent_workload.hpp"

namespace nativepool {
namespace {

using workload::State;

std::string temp_directory() {
  std::string pattern = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/np-crash-XXXXXX");
  return mkdtemp(pattern.data());
}

std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class PersistentCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_directory();
    path_ = dir_ + "/heap";
    PersistentOptions options;
    options.capacity = workload::kCapacity;
    options.undo_log_bytes = 16 << 10;
    std::unique_ptr<PersistentHeap> heap;
    ASSERT_EQ(PersistentHeap::create(path_.c_str(), options, &heap), Status::kOk) << error_detail();
    ASSERT_EQ(workload::setup(*heap), Status::kOk);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string dir_;
  std::string path_;
};

// The power-loss model. The durable image holds what a drain made certain;
// at each persist point, before applying what was flushed since the last,
// the images are: the durable one, and the durable one with a random subset
// of the words that differ from the file's current contents (stores flushed
// but not drained, or never flushed, that the cache or the page cache wrote
// back anyway, torn at 8 bytes). A grow makes the file longer before it
// commits, with zeros made durable (fdatasync), so both images grow too.
class PowerLossImages final : public PersistObserver {
 public:
  PowerLossImages(const std::string& path, std::uint64_t seed)
      : fd_(::open(path.c_str(), O_RDONLY)), durable_(read_all(path)), current_(durable_.size()), random_(seed) {}
  ~PowerLossImages() override { ::close(fd_); }

  void flushed(std::uint64_t offset, std::uint64_t length) noexcept override {
    pending_.emplace_back(offset & ~std::uint64_t{63}, (offset + length + 63) & ~std::uint64_t{63});
  }
  void drained() noexcept override {
    struct stat info {};
    if (::fstat(fd_, &info) == 0 && static_cast<std::size_t>(info.st_size) > current_.size()) {
      current_.resize(static_cast<std::size_t>(info.st_size));
      durable_.resize(current_.size());
    }
    (void)!::pread(fd_, current_.data(), current_.size(), 0);
    images_.push_back(durable_);
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<unsigned char> image = durable_;
      for (std::size_t word = 0; word < image.size(); word += 8) {
        if (std::memcmp(&image[word], &current_[word], 8) != 0 && (random_() & 1) != 0) {
          std::memcpy(&image[word], &current_[word], 8);
        }
      }
      images_.push_back(std::move(image));
    }
    for (const auto& [begin, end] : pending_) {
      std::memcpy(&durable_[begin], &current_[begin], std::min<std::size_t>(end, durable_.size()) - begin);
    }
    pending_.clear();
  }

  std::vector<std::vector<unsigned char>> take_images() { return std::move(images_); }

 private:
  int fd_;
  std::vector<unsigned char> durable_;
  std::vector<unsigned char> current_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pending_;
  std::vector<std::vector<unsigned char>> images_;
  std::mt19937_64 random_;
};

TEST_F(PersistentCrashTest, PowerLossStressEveryImageRecoversToBeforeOrAfter) {
  PowerLossImages images(path_, 7);
  PersistentOptions options;
  options.observer = &images;
  std::unique_ptr<PersistentHeap> heap;
  ASSERT_EQ(PersistentHeap::open(path_.c_str(), options, &heap), Status::kOk) << error_detail();
  std::mt19937_64 random(11);
  State state;
  std::string why;
  ASSERT_TRUE(workload::read_state(*heap, &state, &why)) << why;
  const std::string image_path = dir_ + "/image";
  std::size_t checked = 0;
  std::size_t rolled_forward = 0;
  for (int step = 0; step < 150; ++step) {
    const workload::Op op = workload::plan(state, random);
    (void)images.take_images();
    ASSERT_EQ(workload::execute(*heap, op), Status::kOk) << error_detail();
    const State after = workload::apply(state, op);
    for (const auto& image : images.take_images()) {
      write_all(image_path, image);
      std::unique_ptr<PersistentHeap> recovered;
      ASSERT_EQ(PersistentHeap::open(image_path.c_str(), {}, &recovered), Status::kOk)
          << "step " << step << ": " << error_detail();
      ASSERT_EQ(recovered->validate(), Status::kOk) << error_detail();
      State seen;
      ASSERT_TRUE(workload::read_state(*recovered, &seen, &why))
          << "step " << step << " (operation " << static_cast<int>(op.kind) << ", image " << checked << "): " << why;
      ASSERT_TRUE(seen == state || seen == after) << "step " << step << ": a state neither before nor after";
      rolled_forward += seen == after && !(seen == state) ? 1 : 0;
      ++checked;
    }
    state = after;
  }
  EXPECT_GT(checked, 2000U);
  EXPECT_GT(rolled_forward, 100U) << "some images must hold the finished operation";
  EXPECT_EQ(state.grows, workload::kGrows) << "the workload grew the file";
}

// One round: the child continues the workload from whatever the heap holds,
// counting acknowledged operations in memory it shares with the parent,
// until the parent kills it.
struct Shared {
  std::atomic<std::uint64_t> acknowledged;
};

[[noreturn]] void run_child(const std::string& path, std::uint64_t seed, bool group_commit, Shared* shared) {
  PersistentOptions options;
  options.group_commit = group_commit;
  std::unique_ptr<PersistentHeap> heap;
  if (PersistentHeap::open(path.c_str(), options, &heap) != Status::kOk) _exit(2);
  State state;
  std::string why;
  if (!workload::read_state(*heap, &state, &why)) _exit(3);
  std::mt19937_64 random(seed);
  for (std::uint64_t done = 0;; ) {
    const workload::Op op = workload::plan(state, random);
    if (workload::execute(*heap, op) != Status::kOk) _exit(4);
    state = workload::apply(state, op);
    shared->acknowledged.store(++done, std::memory_order_release);
  }
}

TEST_F(PersistentCrashTest, KillNineStressAtRandomPointsLosesNothingAcknowledged) {
  const char* rounds_text = std::getenv("NATIVEPOOL_TORTURE_ROUNDS");
  const int rounds = rounds_text != nullptr ? std::atoi(rounds_text) : 1000;
  auto* shared = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(shared, MAP_FAILED);
  std::mt19937_64 random(2024);
  std::uint64_t total_acknowledged = 0;
  int recovered_logs = 0;
  std::uint64_t grows = 0;
  for (int round = 0; round < rounds; ++round) {
    State state;
    std::string why;
    {
      std::unique_ptr<PersistentHeap> heap;
      ASSERT_EQ(PersistentHeap::open(path_.c_str(), {}, &heap), Status::kOk) << "round " << round << ": " << error_detail();
      ASSERT_EQ(heap->validate(), Status::kOk) << error_detail();
      ASSERT_TRUE(workload::read_state(*heap, &state, &why)) << "round " << round << ": " << why;
      const PersistentStats stats = heap->stats();
      recovered_logs += (stats.recovered_redo + stats.recovered_undo) != 0 ? 1 : 0;
    }
    const std::uint64_t seed = random();
    const bool group_commit = round % 2 == 1;
    shared->acknowledged.store(0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) run_child(path_, seed, group_commit, shared);
    usleep(static_cast<useconds_t>(200 + random() % 3000));
    kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": the child exited with " << WEXITSTATUS(status);
    // Replay the child's plan: the heap holds the state after the last
    // acknowledged operation, or after the one in flight.
    const std::uint64_t acknowledged = shared->acknowledged.load();
    total_acknowledged += acknowledged;
    std::mt19937_64 replay(seed);
    State expected = state;
    for (std::uint64_t i = 0; i < acknowledged; ++i) expected = workload::apply(expected, workload::plan(expected, replay));
    const State in_flight = workload::apply(expected, workload::plan(expected, replay));
    std::unique_ptr<PersistentHeap> heap;
    ASSERT_EQ(PersistentHeap::open(path_.c_str(), {}, &heap), Status::kOk) << "round " << round << ": " << error_detail();
    State seen;
    ASSERT_TRUE(workload::read_state(*heap, &seen, &why)) << "round " << round << ": " << why;
    ASSERT_TRUE(seen == expected || seen == in_flight)
        << "round " << round << ": after " << acknowledged << " acknowledged operations the heap holds another state";
    grows = seen.grows;
  }
  munmap(shared, sizeof(Shared));
  EXPECT_GT(total_acknowledged, static_cast<std::uint64_t>(rounds)) << "the children got work done";
  RecordProperty("acknowledged", std::to_string(total_acknowledged));
  RecordProperty("rounds_recovering_a_log", recovered_logs);
  EXPECT_TRUE(rounds < 100 || grows > 0) << "the children grew the file";
}

TEST_F(PersistentCrashTest, ByteFlipStressRefusedNeverCrash) {
  std::uint64_t heap_offset = 0;
  std::uint64_t table_end = 0;
  {
    std::unique_ptr<PersistentHeap> heap;
    ASSERT_EQ(PersistentHeap::open(path_.c_str(), {}, &heap), Status::kOk);
    std::mt19937_64 random(5);
    State state;
    std::string why;
    ASSERT_TRUE(workload::read_state(*heap, &state, &why));
    for (int i = 0; i < 40; ++i) {
      const workload::Op op = workload::plan(state, random);
      if (op.kind == workload::Kind::kGrow) continue;  // the flips aim at segment 0; grows only enlarge the images
      ASSERT_EQ(workload::execute(*heap, op), Status::kOk);
      state = workload::apply(state, op);
    }
    table_end = 3 * 4096 + (16 << 10) + heap->stats().heap_bytes / PersistentHeap::kUnit * 8;
    heap->for_each_block([&](std::uint64_t offset, std::uint64_t) {
      if (heap_offset == 0) heap_offset = offset;
    });
  }
  const std::vector<unsigned char> pristine = read_all(path_);
  const std::string image_path = dir_ + "/image";
  // Everything before the first block: header, logs, roots, table (and the
  // padding that rounds the table to a page).
  const std::uint64_t metadata = heap_offset;
  const std::uint64_t table = 3 * 4096 + (16 << 10);
  constexpr std::uint64_t kHeader = 88;  // the checksummed header's bytes
  std::mt19937_64 random(99);
  int refused = 0;
  for (int flip = 0; flip < 3000; ++flip) {
    std::vector<unsigned char> image = pristine;
    // Half the flips in the header, where every one must be refused.
    const std::uint64_t at = flip % 2 == 0 ? random() % kHeader : random() % metadata;
    image[at] ^= static_cast<unsigned char>(1 + random() % 255);
    write_all(image_path, image);
    std::unique_ptr<PersistentHeap> heap;
    const Status status = PersistentHeap::open(image_path.c_str(), {}, &heap);
    if (status == Status::kOk) {
      EXPECT_TRUE(at < table || at >= table_end) << "a table flip at " << at << " went unnoticed";
      EXPECT_GE(at, kHeader) << "a header flip at " << at << " went unnoticed";
      EXPECT_EQ(heap->validate(), Status::kOk) << error_detail();
      continue;
    }
    ++refused;
    EXPECT_TRUE(status == Status::kNotAPool || status == Status::kVersionMismatch ||
                status == Status::kChecksumMismatch || status == Status::kCorrupted || status == Status::kTruncated)
        << status_name(status) << ": " << error_detail();
    if (at < kHeader || (at >= table && at < table_end)) {
      EXPECT_EQ(read_all(image_path), image) << "a refused file was modified";
    }
  }
  EXPECT_GT(refused, 1500);
}

}  // namespace
}  // namespace nativepool
