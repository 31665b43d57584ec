// SPDX-License-Identifier: Apache-2.0
/// @file jni_caches.hpp
/// @brief Counters of the Java thread caches (org.nativepool.BlockCache).
///
/// A cache takes blocks from its pool in batches and parks them in a Java
/// array, so the pool counts them as allocated. Each cache therefore owns a
/// native slot into which its thread stores how many blocks it holds parked
/// (a plain store through a direct ByteBuffer, no JNI call); stats() subtracts
/// the slots of a pool, so live blocks and bytes in use stay exact and blocks
/// parked in caches are never reported as leaks.
#pragma once

#include <cstdint>

#include "nativepool/pool.hpp"

namespace nativepool::jni {

/// Blocks parked in the caches of @p pool right now.
[[nodiscard]] std::uint64_t parked_blocks(const Pool* pool) noexcept;

/// Detaches the caches of a pool being destroyed: their slots live on until
/// each cache is closed, but no longer count for any pool.
void forget_caches(const Pool* pool) noexcept;

}  // namespace nativepool::jni
