// SPDX-License-Identifier: Apache-2.0
// Loading plugins (plugin.h), the ABI rules, the core's distrust of what a
// plugin returns (the misbehaving test plugin), and the memfd plugin's own
// features: hole punching, purge and sharing a region with a child process.
#include "nativepool/plugin_backend.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "nativepool/backends.hpp"
#include "nativepool/pool_factory.hpp"

namespace nativepool {
namespace {

std::shared_ptr<PluginBackend> load_ok(const char* path, const PluginOptions& options = {}) {
  std::shared_ptr<PluginBackend> backend;
  EXPECT_EQ(PluginBackend::load(path, options, &backend), Status::kOk) << error_detail();
  return backend;
}

Status load_status(const char* path, const PluginOptions& options = {}) {
  std::shared_ptr<PluginBackend> backend;
  const Status status = PluginBackend::load(path, options, &backend);
  EXPECT_EQ(backend == nullptr, status != Status::kOk);
  return status;
}

std::unique_ptr<Pool> fixed_over(std::shared_ptr<Backend> backend, std::size_t block = 256,
                                 ThreadSafety mode = ThreadSafety::kMutex) {
  FixedPoolConfig config;
  config.block_size = block;
  config.blocks_per_chunk = 64;
  config.thread_cache_blocks = 0;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_fixed_pool(config, mode, std::move(backend), &pool, SafetyLevel::kOff), Status::kOk)
      << error_detail();
  return pool;
}

std::unique_ptr<Pool> variable_over(std::shared_ptr<Backend> backend) {
  VariablePoolConfig config;
  config.arena_size = 1 << 20;
  std::unique_ptr<Pool> pool;
  EXPECT_EQ(make_variable_pool(config, ThreadSafety::kMutex, std::move(backend), &pool, SafetyLevel::kOff),
            Status::kOk)
      << error_detail();
  return pool;
}

TEST(PluginLoad, MissingFileIsPluginNotFound) {
  EXPECT_EQ(load_status("/no/such/dir/libplugin.so"), Status::kPluginNotFound);
  EXPECT_NE(std::strstr(error_detail(), "No such file"), nullptr) << error_detail();
}

TEST(PluginLoad, AFileThatIsNoLibraryIsPluginNotFoundWithTheLoadersReason) {
  EXPECT_EQ(load_status(__FILE__), Status::kPluginNotFound);
  EXPECT_NE(std::strstr(error_detail(), "plugin_test.cpp"), nullptr) << error_detail();
}

TEST(PluginLoad, ALibraryWithoutTheEntryIsSymbolMissing) {
  EXPECT_EQ(load_status(NP_TEST_PLUGIN_NO_ENTRY), Status::kPluginSymbolMissing);
  EXPECT_NE(std::strstr(error_detail(), NATIVEPOOL_PLUGIN_ENTRY_NAME), nullptr) << error_detail();
}

TEST(PluginLoad, AnotherMajorIsRefused) {
  EXPECT_EQ(load_status(NP_TEST_PLUGIN_NEW_MAJOR), Status::kPluginAbiMismatch);
  EXPECT_NE(std::strstr(error_detail(), "built for plugin ABI 2.1, this core speaks 1.x"), nullptr) << error_detail();
}

TEST(PluginLoad, ATruncatedTableIsRefused) {
  EXPECT_EQ(load_status(NP_TEST_PLUGIN_TRUNCATED), Status::kPluginAbiMismatch);
  EXPECT_NE(std::strstr(error_detail(), "truncated"), nullptr) << error_detail();
}

TEST(PluginLoad, AnOlderMinorLoadsAndItsLaterEntriesAreAbsent) {
  auto backend = load_ok(NP_TEST_PLUGIN_OLD_MINOR);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->abi_minor(), 0u);
  EXPECT_EQ(backend->description(), "");  // describe() is a minor-1 entry the table does not cover
  auto pool = fixed_over(backend);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(256, 0, &block), Status::kOk) << error_detail();
  nativepool_plugin_keys keys{};
  EXPECT_EQ(backend->keys(block, &keys), Status::kFeatureUnavailable);  // register_region is beyond its size
  EXPECT_EQ(backend->purge(block, 256), Status::kFeatureUnavailable);
  EXPECT_EQ(pool->deallocate(block), Status::kOk);
}

TEST(PluginLoad, ANewerMinorLoadsIntoThisCore) {
  auto backend = load_ok(NP_TEST_PLUGIN_NEWER_MINOR);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->abi_minor(), NATIVEPOOL_PLUGIN_ABI_MINOR + 1u);
  auto pool = variable_over(backend);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(1000, 64, &block), Status::kOk) << error_detail();
  EXPECT_EQ(pool->deallocate(block), Status::kOk);
}

TEST(PluginLoad, TheLibraryIsOpenedOncePerPath) {
  auto first = load_ok(NP_TEST_PLUGIN_MISBEHAVING);
  // Another spelling of the same file names the same library.
  const std::string dotted = std::string(NP_TEST_PLUGIN_MISBEHAVING).insert(std::string(NP_TEST_PLUGIN_MISBEHAVING).rfind('/'), "/.");
  auto second = load_ok(dotted.c_str());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->path(), second->path());
  EXPECT_NE(first.get(), second.get()) << "each load is its own instance";
}

TEST(PluginLoad, AnOptionErrorCarriesThePluginsMessage) {
  EXPECT_EQ(load_status(NP_TEST_PLUGIN_MISBEHAVING, {{"colour", "blue"}}), Status::kPluginOptionError);
  EXPECT_NE(std::strstr(error_detail(), "unknown option 'colour'"), nullptr) << error_detail();
  EXPECT_EQ(load_status(NP_MEMFD_PLUGIN, {{"huge_pages", "maybe"}}), Status::kPluginOptionError);
  EXPECT_NE(std::strstr(error_detail(), "huge_pages must be auto, on or off, not 'maybe'"), nullptr) << error_detail();
}

TEST(PluginLoad, APluginWhoseDeviceIsAbsentIsFeatureUnavailable) {
  EXPECT_EQ(load_status(NP_TEST_PLUGIN_MISBEHAVING, {{"unavailable", ""}}), Status::kFeatureUnavailable);
  EXPECT_NE(std::strstr(error_detail(), "the test device is absent"), nullptr) << error_detail();
}

TEST(PluginLoad, RegisterPluginSharesOneInstancePerPathAndOptions) {
  int a = -1, b = -1, c = -1;
  ASSERT_EQ(register_plugin(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}}, &a), Status::kOk) << error_detail();
  ASSERT_EQ(register_plugin(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}}, &b), Status::kOk) << error_detail();
  ASSERT_EQ(register_plugin(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}, {"name", "other"}}, &c), Status::kOk);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::shared_ptr<Backend> backend;
  ASSERT_EQ(make_backend(BackendType::kPlugin, a, &backend), Status::kOk);
  EXPECT_EQ(backend->name(), "memfd");
  EXPECT_EQ(make_backend(BackendType::kPlugin, 1 << 20, &backend), Status::kInvalidArgument);
}

// ---- the example of docs/plugins.md ----

std::string read_file(const char* path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ExamplePlugin, TheDocShowsTheSourceThatCompilesHere) {
  const std::string source = read_file(NP_EXAMPLE_SOURCE);
  ASSERT_FALSE(source.empty());
  EXPECT_NE(read_file(NP_PLUGINS_DOC).find(source), std::string::npos) << "docs/plugins.md must quote example_plugin.c";
}

TEST(ExamplePlugin, ServesEveryPoolUpToItsLimit) {
  EXPECT_EQ(load_status(NP_EXAMPLE_PLUGIN, {{"limit", "lots"}}), Status::kPluginOptionError);
  EXPECT_NE(std::strstr(error_detail(), "bad option limit=lots"), nullptr) << error_detail();
  auto backend = load_ok(NP_EXAMPLE_PLUGIN, {{"limit", "2097152"}});
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->name(), "example");
  auto pool = variable_over(backend);
  void* a = nullptr;
  void* b = nullptr;
  void* c = nullptr;
  ASSERT_EQ(pool->allocate(900 << 10, 64, &a), Status::kOk) << error_detail();
  ASSERT_EQ(pool->allocate(900 << 10, 64, &b), Status::kOk) << error_detail();
  EXPECT_EQ(pool->allocate(900 << 10, 64, &c), Status::kOutOfPoolMemory);
  EXPECT_NE(std::strstr(error_detail(), "would pass the limit of 2097152"), nullptr) << error_detail();
  EXPECT_EQ(pool->deallocate(a), Status::kOk);
  EXPECT_EQ(pool->deallocate(b), Status::kOk);
  EXPECT_EQ(pool->trim(), std::size_t{2} << 20);
}

// ---- distrust: each misbehaviour is refused, and the pool is as it was ----

class Misbehaving : public ::testing::TestWithParam<const char*> {};

TEST_P(Misbehaving, FirstRegionRefusedLeavesAnEmptyConsistentPool) {
  auto backend = load_ok(NP_TEST_PLUGIN_MISBEHAVING, {{"mode", GetParam()}});
  ASSERT_NE(backend, nullptr);
  for (const bool fixed : {true, false}) {
    const auto pool = fixed ? fixed_over(backend) : variable_over(backend);
    void* block = nullptr;
    EXPECT_EQ(pool->allocate(256, 16, &block), Status::kPluginFault) << GetParam();
    EXPECT_NE(std::strstr(error_detail(), "plugin misbehaving"), nullptr) << error_detail();
    EXPECT_EQ(block, nullptr);
    const PoolStats stats = pool->stats();
    EXPECT_EQ(stats.allocations, 0u);
    EXPECT_EQ(stats.live_blocks, 0u);
    EXPECT_EQ(stats.reserved.regions, 0u);
    EXPECT_EQ(pool->validate(), Status::kOk);
  }
  EXPECT_EQ(backend->live_regions(), 0u);
  EXPECT_GE(backend->faults(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Plugin, Misbehaving, ::testing::Values("null", "misaligned", "fail_alloc", "fail_register"));

TEST(PluginDistrust, AnOverlappingRegionIsRefusedAndThePoolKeepsItsFirst) {
  auto backend = load_ok(NP_TEST_PLUGIN_MISBEHAVING, {{"mode", "overlap"}});
  auto pool = fixed_over(backend, 256, ThreadSafety::kNone);
  std::vector<void*> blocks(64);
  for (void*& block : blocks) ASSERT_EQ(pool->allocate(256, 0, &block), Status::kOk) << error_detail();
  const PoolStats before = pool->stats();
  void* extra = nullptr;
  EXPECT_EQ(pool->allocate(256, 0, &extra), Status::kPluginFault);  // growth: the second region overlaps the first
  EXPECT_NE(std::strstr(error_detail(), "overlaps the live region"), nullptr) << error_detail();
  EXPECT_EQ(backend->live_regions(), 1u);
  const PoolStats after = pool->stats();
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.live_blocks, 64u);
  EXPECT_EQ(after.reserved.regions, before.reserved.regions);
  EXPECT_EQ(pool->validate(), Status::kOk);
  for (void* block : blocks) EXPECT_EQ(pool->deallocate(block), Status::kOk);
}

TEST(PluginDistrust, OutOfMemoryFromThePluginIsOutOfPoolMemory) {
  auto backend = load_ok(NP_TEST_PLUGIN_MISBEHAVING, {{"mode", "oom"}});
  auto pool = variable_over(backend);
  void* block = nullptr;
  EXPECT_EQ(pool->allocate(64, 16, &block), Status::kOutOfPoolMemory);
  EXPECT_NE(std::strstr(error_detail(), "the test plugin is out of memory"), nullptr) << error_detail();
  EXPECT_EQ(backend->faults(), 0u);
}

TEST(PluginDistrust, AFailedFreeIsCountedAsAFault) {
  auto backend = load_ok(NP_TEST_PLUGIN_MISBEHAVING, {{"mode", "fail_free"}});
  {
    auto pool = variable_over(backend);
    void* block = nullptr;
    ASSERT_EQ(pool->allocate(64, 16, &block), Status::kOk) << error_detail();
    EXPECT_EQ(pool->deallocate(block), Status::kOk);
    EXPECT_EQ(pool->trim(), std::size_t{1} << 20);
  }
  EXPECT_EQ(backend->faults(), 1u);
  EXPECT_NE(backend->last_fault().find("the test plugin fails to free"), std::string::npos) << backend->last_fault();
  EXPECT_EQ(backend->live_regions(), 0u);
  EXPECT_STREQ(error_detail(), "") << "a fault of deallocate() is no caller's failure";
}

TEST(PluginKeys, EachBlockReportsTheKeysOfItsRegion) {
  auto backend = load_ok(NP_TEST_PLUGIN_MISBEHAVING);
  auto pool = variable_over(backend);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(4000, 64, &block), Status::kOk) << error_detail();
  nativepool_plugin_keys keys{};
  ASSERT_EQ(backend->keys(static_cast<char*>(block) + 100, &keys), Status::kOk) << error_detail();
  // The test plugin's keys are its region's base and size.
  EXPECT_LE(keys.local_key, reinterpret_cast<std::uintptr_t>(block));
  EXPECT_EQ(keys.remote_key, std::uint64_t{1} << 20);
  int outside = 0;
  EXPECT_EQ(backend->keys(&outside, &keys), Status::kInvalidArgument);
  EXPECT_EQ(pool->deallocate(block), Status::kOk);
}

// ---- the memfd plugin ----

struct stat file_stat(int fd) {
  struct stat info {};
  EXPECT_EQ(::fstat(fd, &info), 0);
  return info;
}

TEST(MemfdPlugin, DescribesWhatItFound) {
  auto backend = load_ok(NP_MEMFD_PLUGIN);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->kind(), MemoryKind::kHost);
  EXPECT_NE(backend->description().find("pages"), std::string::npos) << backend->description();
  auto small = load_ok(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}});
  EXPECT_EQ(small->description(), "small pages of 4 KiB (huge_pages=off)");
  if (backend->description().find("no huge pages reserved") != std::string::npos) {
    EXPECT_EQ(load_status(NP_MEMFD_PLUGIN, {{"huge_pages", "on"}}), Status::kFeatureUnavailable);
    EXPECT_NE(std::strstr(error_detail(), "no huge pages are reserved"), nullptr) << error_detail();
  } else {
    EXPECT_EQ(load_ok(NP_MEMFD_PLUGIN, {{"huge_pages", "on"}})->name(), "memfd+huge");
  }
}

TEST(MemfdPlugin, TrimPunchesTheFreedRegionsOutOfTheFile) {
  auto backend = load_ok(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}});
  auto pool = variable_over(backend);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(512 << 10, 64, &block), Status::kOk) << error_detail();
  std::memset(block, 0x5A, 512 << 10);
  nativepool_plugin_export shared{};
  std::size_t offset = 0;
  ASSERT_EQ(backend->export_region(block, &shared, &offset), Status::kOk) << error_detail();
  EXPECT_GE(file_stat(shared.fd).st_blocks * 512, 512 << 10);
  ASSERT_EQ(pool->deallocate(block), Status::kOk);
  EXPECT_EQ(pool->trim(), std::size_t{1} << 20);
  EXPECT_EQ(file_stat(shared.fd).st_blocks, 0) << "the touched pages went back to the kernel";
  EXPECT_EQ(backend->live_regions(), 0u);
}

TEST(MemfdPlugin, PurgeGivesBackWholePagesThatThenReadAsZero) {
  auto backend = load_ok(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}});
  auto pool = variable_over(backend);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(64 << 10, 4096, &block), Status::kOk) << error_detail();
  auto* bytes = static_cast<unsigned char*>(block);
  std::memset(bytes, 0xA5, 64 << 10);
  ASSERT_EQ(backend->purge(bytes + 4096, 8192), Status::kOk) << error_detail();
  EXPECT_EQ(bytes[4095], 0xA5);
  EXPECT_EQ(bytes[4096], 0);
  EXPECT_EQ(bytes[4096 + 8191], 0);
  EXPECT_EQ(bytes[4096 + 8192], 0xA5);
  int outside = 0;
  EXPECT_EQ(backend->purge(&outside, 1), Status::kInvalidArgument);
  EXPECT_EQ(pool->deallocate(block), Status::kOk);
}

TEST(MemfdPlugin, AChildProcessSeesAndAnswersInTheSameBytes) {
  auto backend = load_ok(NP_MEMFD_PLUGIN, {{"huge_pages", "off"}});
  auto pool = fixed_over(backend, 4096);
  void* block = nullptr;
  ASSERT_EQ(pool->allocate(4096, 0, &block), Status::kOk) << error_detail();
  auto* bytes = static_cast<char*>(block);
  std::memset(bytes, 0, 4096);
  const char message[] = "hello from the parent";
  std::memcpy(bytes, message, sizeof message);
  nativepool_plugin_export shared{};
  std::size_t offset = 0;
  ASSERT_EQ(backend->export_region(block, &shared, &offset), Status::kOk) << error_detail();
  // The peer maps the page the block lies in; blocks of a 4 KiB pool start on pages here.
  ASSERT_EQ(offset % 4096, 0u);
  const std::string file_offset = std::to_string(shared.offset + offset);
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // dup2 drops FD_CLOEXEC, so the exec'ed peer inherits the memfd.
    if (::dup2(shared.fd, 100) < 0) ::_exit(3);
    ::execl(NP_MEMFD_PEER, "memfd_peer", "100", file_offset.c_str(), "4096", message, static_cast<char*>(nullptr));
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_STREQ(bytes + 4096 - sizeof "the peer saw it", "the peer saw it");
  EXPECT_EQ(pool->deallocate(block), Status::kOk);
}

// ---- the rdma plugin ----

TEST(RdmaPlugin, TheRealLibibverbsIsLoadedAndQueried) {
  std::shared_ptr<PluginBackend> backend;
  const Status status = PluginBackend::load(NP_RDMA_PLUGIN, {}, &backend);
  void* verbs = ::dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
  if (verbs == nullptr) {
    EXPECT_EQ(status, Status::kFeatureUnavailable);
    EXPECT_NE(std::strstr(error_detail(), "libibverbs.so.1 not found"), nullptr) << error_detail();
    GTEST_SKIP() << "libibverbs1 is not installed (tests/run installs it)";
  }
  ::dlclose(verbs);
  if (status == Status::kOk) {
    EXPECT_EQ(backend->name().substr(0, 5), "rdma:");  // a machine with an RDMA device
  } else {
    EXPECT_EQ(status, Status::kFeatureUnavailable);
    EXPECT_NE(std::strstr(error_detail(), "no RDMA device: libibverbs.so.1 found 0"), nullptr) << error_detail();
  }
}

/// The verbs test double (tests/native/plugins/verbs_test_double.c), steered through its control functions.
class VerbsDouble : public ::testing::Test {
 protected:
  void SetUp() override {
    library_ = ::dlopen(NP_TEST_PLUGIN_VERBS_DOUBLE, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(library_, nullptr) << ::dlerror();
    configure_ = reinterpret_cast<void (*)(int, long)>(::dlsym(library_, "verbs_double_configure"));
    live_ = reinterpret_cast<long (*)()>(::dlsym(library_, "verbs_double_live"));
    ASSERT_NE(configure_, nullptr);
    ASSERT_NE(live_, nullptr);
    configure_(1, -1);
  }
  void TearDown() override { ::dlclose(library_); }
  static PluginOptions options() { return {{"verbs", NP_TEST_PLUGIN_VERBS_DOUBLE}}; }

  void* library_ = nullptr;
  void (*configure_)(int, long) = nullptr;
  long (*live_)() = nullptr;
};

TEST_F(VerbsDouble, EachRegionIsRegisteredAndEachBlockReportsItsKeys) {
  auto backend = load_ok(NP_RDMA_PLUGIN, options());
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->name(), "rdma:double0");
  EXPECT_NE(backend->description().find("device double0 (1 of 1)"), std::string::npos) << backend->description();
  auto pool = fixed_over(backend, 4096);
  std::vector<void*> blocks(100);  // two chunks of 64 blocks
  for (void*& block : blocks) ASSERT_EQ(pool->allocate(4096, 0, &block), Status::kOk) << error_detail();
  EXPECT_EQ(live_(), 2);
  nativepool_plugin_keys first{}, last{};
  ASSERT_EQ(backend->keys(blocks.front(), &first), Status::kOk) << error_detail();
  ASSERT_EQ(backend->keys(blocks.back(), &last), Status::kOk) << error_detail();
  EXPECT_NE(first.local_key, last.local_key) << "the blocks lie in two regions";
  EXPECT_EQ(first.remote_key, first.local_key + 0x10000);
  for (void* block : blocks) ASSERT_EQ(pool->deallocate(block), Status::kOk);
  pool->trim();
  EXPECT_EQ(live_(), 0) << "every region was deregistered before it went back";
}

TEST_F(VerbsDouble, ARefusedRegistrationIsOutOfPoolMemoryAndThePoolKeepsItsRegions) {
  configure_(1, 1);
  auto backend = load_ok(NP_RDMA_PLUGIN, options());
  auto pool = fixed_over(backend, 4096, ThreadSafety::kNone);
  std::vector<void*> blocks(64);
  for (void*& block : blocks) ASSERT_EQ(pool->allocate(4096, 0, &block), Status::kOk) << error_detail();
  void* extra = nullptr;
  EXPECT_EQ(pool->allocate(4096, 0, &extra), Status::kOutOfPoolMemory);
  EXPECT_NE(std::strstr(error_detail(), "ibv_reg_mr of 262144 bytes on double0"), nullptr) << error_detail();
  EXPECT_EQ(backend->live_regions(), 1u);
  EXPECT_EQ(pool->stats().live_blocks, 64u);
  EXPECT_EQ(live_(), 1);
  for (void* block : blocks) ASSERT_EQ(pool->deallocate(block), Status::kOk);
}

TEST_F(VerbsDouble, ZeroDevicesIsFeatureUnavailableAndADeviceIsChosenByName) {
  configure_(0, -1);
  EXPECT_EQ(load_status(NP_RDMA_PLUGIN, options()), Status::kFeatureUnavailable);
  EXPECT_NE(std::strstr(error_detail(), "found 0"), nullptr) << error_detail();
  configure_(2, -1);
  PluginOptions named = options();
  named.emplace_back("device", "double1");
  auto backend = load_ok(NP_RDMA_PLUGIN, named);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->name(), "rdma:double1");
  named.back().second = "mlx5_9";
  EXPECT_EQ(load_status(NP_RDMA_PLUGIN, named), Status::kPluginOptionError);
  EXPECT_NE(std::strstr(error_detail(), "no RDMA device is named 'mlx5_9' (2 found)"), nullptr) << error_detail();
}

}  // namespace
}  // namespace nativepool
