/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the plugins built here share: the calling thread's error message
 * (plugin.h's last_error) and an aligned mapping. Not part of the ABI: a
 * third-party plugin needs nothing but plugin.h. Each plugin gets its own
 * copy (static), so no symbol but the entry leaves it.
 */
#ifndef NATIVEPOOL_PLUGIN_SUPPORT_H
#define NATIVEPOOL_PLUGIN_SUPPORT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

static _Thread_local char np_error[320];

/* Leaves a message for last_error() and returns @p result. */
__attribute__((format(printf, 2, 3), unused)) static int np_failed(int result, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(np_error, sizeof np_error, format, args);
  va_end(args);
  return result;
}

__attribute__((unused)) static const char* np_last_error(void) { return np_error; }

/*
 * Maps @p length bytes aligned to @p align (a power of two, at least a page)
 * with @p prot and @p flags: over-maps by the alignment and gives back the
 * head and tail, since the kernel only promises page alignment. NULL (errno
 * set) on failure.
 */
__attribute__((unused)) static void* np_map_aligned(size_t length, size_t align, int prot, int flags) {
  char* raw = mmap(NULL, length + align, prot, flags, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  const uintptr_t base = (uintptr_t)raw;
  const uintptr_t aligned = (base + align - 1) & ~(uintptr_t)(align - 1);
  if (aligned > base) munmap(raw, aligned - base);
  if (base + align > aligned) munmap((void*)(aligned + length), base + align - aligned);
  return (void*)aligned;
}

#endif
