// SPDX-License-Identifier: Apache-2.0
// The backends every conformance suite runs over: a new backend added here
// gets every pool test for free. Each case builds a fresh backend, so a test
// sees no regions of another.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

#include "nativepool/backend.hpp"
#include "nativepool/host_backend.hpp"
#include "nativepool/plugin_backend.hpp"
#include "nativepool/status.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool::testing_backends {

struct Malloc {
  static constexpr const char* kName = "malloc";
  static std::shared_ptr<Backend> make() { return std::make_shared<MallocBackend>(); }
};

struct Mmap {
  static constexpr const char* kName = "mmap";
  static std::shared_ptr<Backend> make() { return std::make_shared<MmapBackend>(false); }
};

/// The bundled memfd plugin (NP_MEMFD_PLUGIN, set by tests/native/CMakeLists.txt).
struct MemfdPlugin {
  static constexpr const char* kName = "memfd_plugin";
  static std::shared_ptr<Backend> make() {
    std::shared_ptr<PluginBackend> backend;
    EXPECT_EQ(PluginBackend::load(NP_MEMFD_PLUGIN, {}, &backend), Status::kOk) << error_detail();
    return backend;
  }
};

/// A pool test's type parameter: a thread-safety mode (::value, as the
/// suites' std::integral_constant was) over a backend.
template <ThreadSafety Mode, class Source>
struct Case : std::integral_constant<ThreadSafety, Mode> {
  using BackendSource = Source;
  static std::shared_ptr<Backend> backend() { return Source::make(); }
};

/// Names typed tests "<mode>_<backend>" instead of a bare index.
struct CaseNames {
  template <class C>
  static std::string GetName(int) {
    const char* mode = C::value == ThreadSafety::kNone    ? "none"
                       : C::value == ThreadSafety::kMutex ? "mutex"
                                                          : "lock_free";
    return std::string(mode) + "_" + C::BackendSource::kName;
  }
};

/// Every mode in @p Modes over every backend.
template <ThreadSafety... Modes>
using AllBackends = ::testing::Types<Case<Modes, Malloc>..., Case<Modes, Mmap>..., Case<Modes, MemfdPlugin>...>;

/// The same backends as values, for parameterised suites.
struct Source {
  const char* name;
  std::shared_ptr<Backend> (*make)();
};
inline constexpr Source kSources[] = {{Malloc::kName, &Malloc::make},
                                      {Mmap::kName, &Mmap::make},
                                      {MemfdPlugin::kName, &MemfdPlugin::make}};

}  // namespace nativepool::testing_backends
