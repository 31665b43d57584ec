// SPDX-License-Identifier: Apache-2.0
/// @file safety_checks.hpp
/// @brief Finds the optional checks of a stack of adaptors.
///
/// A pool is a stack such as WithMemcheck<WithTracking<WithCanaries<A>>>.
/// Only some layers can check blocks or report live allocations; these
/// helpers walk the stack through inner() and ask the first layer that can,
/// so that layers which cannot need no forwarding code.
#pragma once

#include <string>

#include "nativepool/status.hpp"

namespace nativepool::safety {

/// Checks the guards of every live block (canary layers); kOk when no layer
/// of @p pool checks blocks.
template <class A>
[[nodiscard]] Status check_blocks(const A& pool) noexcept {
  if constexpr (requires { pool.check_blocks(); }) {
    return pool.check_blocks();
  } else if constexpr (requires { pool.inner(); }) {
    return check_blocks(pool.inner());
  } else {
    return Status::kOk;
  }
}

/// Appends a report of every live block to @p out (tracking layers); false
/// when no layer of @p pool tracks allocations.
template <class A>
bool report_live_blocks(const A& pool, std::string* out) noexcept {
  if constexpr (requires { pool.report_live_blocks(out); }) {
    return pool.report_live_blocks(out);
  } else if constexpr (requires { pool.inner(); }) {
    return report_live_blocks(pool.inner(), out);
  } else {
    return false;
  }
}

}  // namespace nativepool::safety
