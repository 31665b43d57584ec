// SPDX-License-Identifier: Apache-2.0
/// @file safety_stack.hpp
/// @brief Puts the safety layers a SafetyLevel asks for around a pool
/// algorithm, and erases the type (used by the pool factory).
///
/// | level    | stack                                                   |
/// | -------- | ------------------------------------------------------- |
/// | OFF      | A (WithMemcheck<A> while Valgrind or ASan watches)      |
/// | CANARIES | WithMemcheck<WithCanaries<A>>                           |
/// | FULL     | WithMemcheck<WithTracking<WithCanaries<A>>>             |
///
/// each inside ErasedPool's WithStatistics. OFF without a tool is exactly
/// the unguarded pool over the caller's backend. Over device memory the
/// tools see nothing, so the canary levels leave WithMemcheck out.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include "nativepool/backend.hpp"
#include "nativepool/safety/block_access.hpp"
#include "nativepool/safety/canaries.hpp"
#include "nativepool/erased_pool.hpp"
#include "nativepool/safety/memcheck.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/safety/safety_level.hpp"
#include "nativepool/safety/tracking.hpp"

namespace nativepool {

/// What the safety layers of one pool need, decided before the algorithm is
/// built because they change its backend (and a fixed pool's block size).
class SafetyPlan {
 public:
  /// kInvalidArgument for an unknown level; kFeatureUnavailable for
  /// canaries over memory the CPU cannot read when the backend offers no
  /// MemoryAccess to reach it (device backends do: their guards are set
  /// and checked with device copies).
  [[nodiscard]] static Status make(SafetyLevel level, const Backend& backend, SafetyPlan* out) noexcept;

  [[nodiscard]] SafetyLevel level() const noexcept { return level_; }
  /// Whether the pool is the bare algorithm over the caller's backend (OFF
  /// with no tool watching): the only stack thread caches may front.
  [[nodiscard]] bool bare() const noexcept { return level_ == SafetyLevel::kOff && !hooks_; }

  /// The backend the algorithm must use: @p backend itself at OFF without
  /// a tool, else a GuardedBackend around it. nullptr when out of memory.
  [[nodiscard]] std::shared_ptr<Backend> backend(std::shared_ptr<Backend> backend) const noexcept;

  /// Bytes to add to a fixed pool's block size so that its blocks hold the
  /// canary margins as well (0 at OFF).
  [[nodiscard]] std::size_t block_overhead(std::size_t alignment) const noexcept;

  /// Wraps @p algorithm, whose sizes are multiples of @p unit, in the layers
  /// of this plan and erases the type.
  template <PoolAlgorithm A>
  [[nodiscard]] Status build(std::unique_ptr<A> algorithm, std::size_t unit, PoolInfo info,
                             std::unique_ptr<Pool>* out) const noexcept {
    info.safety = level_;
    switch (level_) {
      case SafetyLevel::kOff:
        if (!hooks_) return erase(std::move(algorithm), std::move(info), out);
        return with_hooks(std::move(algorithm), std::move(info), out);
      case SafetyLevel::kCanaries:
        return with_canaries(wrap<WithCanaries<A>>(std::move(algorithm), unit, access_), std::move(info), out);
      case SafetyLevel::kFull:
        return with_canaries(
            wrap<WithTracking<WithCanaries<A>>>(wrap<WithCanaries<A>>(std::move(algorithm), unit, access_)),
            std::move(info), out);
    }
    return fail(Status::kInvalidArgument, "unknown safety level %d", static_cast<int>(level_));
  }

 private:
  template <class Layer, class Inner, class... Args>
  static std::unique_ptr<Layer> wrap(std::unique_ptr<Inner> inner, Args... args) noexcept {
    if (inner == nullptr) return nullptr;
    return std::unique_ptr<Layer>(new (std::nothrow) Layer(std::move(inner), args...));
  }

  // Host canaries leave every byte they touch inaccessible to the tools, so
  // WithMemcheck must open each block as it is handed out; device memory is
  // never described to the tools (its simulation is host memory that the
  // runtime copies from, which ASan would then report).
  template <PoolAlgorithm A>
  Status with_canaries(std::unique_ptr<A> pool, PoolInfo info, std::unique_ptr<Pool>* out) const noexcept {
    if (access_.host()) return with_hooks(std::move(pool), std::move(info), out);
    return erase(std::move(pool), std::move(info), out);
  }

  template <PoolAlgorithm A>
  static Status with_hooks(std::unique_ptr<A> pool, PoolInfo info, std::unique_ptr<Pool>* out) noexcept {
    return erase(wrap<WithMemcheck<A>>(std::move(pool)), std::move(info), out);
  }

  template <PoolAlgorithm A>
  static Status erase(std::unique_ptr<A> pool, PoolInfo info, std::unique_ptr<Pool>* out) noexcept {
    std::unique_ptr<Pool> erased;
    if (pool != nullptr) erased.reset(new (std::nothrow) ErasedPool<A>(std::move(pool), std::move(info)));
    if (erased == nullptr) return fail(Status::kInternal, "out of host memory for the pool's safety layers");
    *out = std::move(erased);
    return Status::kOk;
  }

  SafetyLevel level_ = SafetyLevel::kOff;
  bool hooks_ = false;
  BlockAccess access_;  // how the canaries reach the backend's memory
};

}  // namespace nativepool
