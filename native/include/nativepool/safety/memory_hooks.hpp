// SPDX-License-Identifier: Apache-2.0
/// @file memory_hooks.hpp
/// @brief Tells Valgrind memcheck and AddressSanitizer which bytes of pool
/// memory user code may touch.
///
/// A pool hands out parts of large regions that the system allocator sees as
/// one live object, so neither tool notices a write past a block into its
/// neighbour or a read of a freed block. These hooks describe the pool to
/// them: regions start inaccessible, a block becomes accessible when it is
/// handed out and inaccessible again when it is freed.
///
/// Memcheck client requests are compiled in when the Valgrind headers exist
/// (NATIVEPOOL_HAVE_VALGRIND) and cost a few no-op instructions outside
/// Valgrind; the ASan calls exist only in sanitizer builds.
#pragma once

#include <cstddef>

#if defined(NATIVEPOOL_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NATIVEPOOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NATIVEPOOL_ASAN 1
#endif
#endif

#if defined(NATIVEPOOL_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace nativepool::hooks {

/// True when this build was made with AddressSanitizer.
inline constexpr bool kAddressSanitizer =
#if defined(NATIVEPOOL_ASAN)
    true;
#else
    false;
#endif

/// True when memcheck client requests are compiled in.
inline constexpr bool kValgrindHooks =
#if defined(NATIVEPOOL_HAVE_VALGRIND)
    true;
#else
    false;
#endif

/// True when a tool is watching this process now, so that describing pool
/// memory to it is worth doing.
[[nodiscard]] inline bool active() noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  if (RUNNING_ON_VALGRIND) return true;
#endif
  return kAddressSanitizer;
}

/// Forbids every access to [p, p + n).
inline void no_access(const void* p, std::size_t n) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  (void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
#if defined(NATIVEPOOL_ASAN)
  ASAN_POISON_MEMORY_REGION(p, n);
#endif
  (void)p;
  (void)n;
}

/// Allows access to [p, p + n) with its current contents counted as
/// initialised: for the pool's own reads and writes of guards and poison.
inline void full_access(const void* p, std::size_t n) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
#if defined(NATIVEPOOL_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
  (void)p;
  (void)n;
}

/// Allows access to [p, p + n) with undefined contents: memory going back
/// to the system allocator or the kernel, which own it from then on.
inline void release(const void* p, std::size_t n) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
#if defined(NATIVEPOOL_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
  (void)p;
  (void)n;
}

/// Registers a memcheck pool identified by @p pool (any unique address), so
/// that its blocks appear in memcheck's reports as pool blocks.
inline void create_pool(const void* pool) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
#endif
  (void)pool;
}

inline void destroy_pool(const void* pool) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  VALGRIND_DESTROY_MEMPOOL(pool);
#endif
  (void)pool;
}

/// A block of @p n bytes at @p p was handed out: accessible, undefined.
inline void block_allocated(const void* pool, const void* p, std::size_t n) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  VALGRIND_MEMPOOL_ALLOC(pool, p, n);
#endif
#if defined(NATIVEPOOL_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
  (void)pool;
  (void)p;
  (void)n;
}

/// The block of @p n bytes at @p p was freed: inaccessible.
inline void block_freed(const void* pool, const void* p, std::size_t n) noexcept {
#if defined(NATIVEPOOL_HAVE_VALGRIND)
  VALGRIND_MEMPOOL_FREE(pool, p);
#endif
#if defined(NATIVEPOOL_ASAN)
  ASAN_POISON_MEMORY_REGION(p, n);
#endif
  (void)pool;
  (void)p;
  (void)n;
}

}  // namespace nativepool::hooks
