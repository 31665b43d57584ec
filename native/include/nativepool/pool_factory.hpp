// SPDX-License-Identifier: Apache-2.0
/// @file pool_factory.hpp
/// @brief Builds a type-erased Pool from a run-time description.
#pragma once

#include <memory>

#include "nativepool/fixed_pool.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/safety/safety_level.hpp"
#include "nativepool/variable_pool.hpp"

namespace nativepool {

/// Instantiates FixedPool<mode>, wraps it in the layers of @p safety
/// (safety_stack.hpp) and statistics, erases the type. A kMutex or kLockFree
/// pool without a maximum at SafetyLevel OFF gets a cache per thread of
/// config.thread_cache_blocks blocks instead (thread_cache.hpp; 0: none);
/// kInvalidArgument for a capacity of 1 or above kMaxThreadCacheBlocks.
[[nodiscard]] Status make_fixed_pool(const FixedPoolConfig& config, ThreadSafety mode,
                                     std::shared_ptr<Backend> backend, std::unique_ptr<Pool>* out,
                                     SafetyLevel safety = default_safety_level()) noexcept;

/// Instantiates VariablePool<mode>, wraps it in the layers of @p safety
/// (safety_stack.hpp) and statistics, erases the type. A kMutex pool with
/// size classes and without a maximum at SafetyLevel OFF gets a cache per
/// thread and class of config.thread_cache_blocks blocks instead
/// (variable_thread_cache.hpp; 0: none); kInvalidArgument for a capacity of
/// 1 or above kMaxThreadCacheBlocks.
[[nodiscard]] Status make_variable_pool(const VariablePoolConfig& config, ThreadSafety mode,
                                        std::shared_ptr<Backend> backend, std::unique_ptr<Pool>* out,
                                        SafetyLevel safety = default_safety_level()) noexcept;

}  // namespace nativepool
