// SPDX-License-Identifier: Apache-2.0
/// @file adaptor.hpp
/// @brief AdaptorBase: what every pool adaptor shares, so that each adaptor
/// spells out only the operations it changes (as RMM's resource adaptors
/// forward to their upstream).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "nativepool/pool.hpp"

namespace nativepool {

/// Owns the wrapped PoolAlgorithm and forwards to it the operations an
/// adaptor leaves alone. An adaptor derives from it, defines allocate() and
/// deallocate(), and hides any other member it needs to change (a derived
/// member of the same name wins; nothing here is virtual).
template <PoolAlgorithm Inner>
class AdaptorBase {
 public:
  static constexpr bool kConcurrent = Inner::kConcurrent;

  AdaptorBase(const AdaptorBase&) = delete;
  AdaptorBase& operator=(const AdaptorBase&) = delete;

  [[nodiscard]] std::size_t counted_size(std::size_t size) const noexcept { return inner_->counted_size(size); }
  std::size_t trim() noexcept { return inner_->trim(); }
  [[nodiscard]] Status validate() const noexcept { return inner_->validate(); }
  [[nodiscard]] Fragmentation fragmentation() const noexcept { return inner_->fragmentation(); }
  [[nodiscard]] Reservation reservation() const noexcept { return inner_->reservation(); }
  [[nodiscard]] Inner& inner() noexcept { return *inner_; }
  [[nodiscard]] const Inner& inner() const noexcept { return *inner_; }

 protected:
  explicit AdaptorBase(std::unique_ptr<Inner> inner) noexcept : inner_(std::move(inner)) {}
  ~AdaptorBase() = default;

  std::unique_ptr<Inner> inner_;
};

}  // namespace nativepool
