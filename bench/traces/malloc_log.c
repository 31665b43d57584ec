// SPDX-License-Identifier: Apache-2.0
// LD_PRELOAD shim: records every malloc-family call of a program in the trace
// format of trace_replay ("+ <address> <size>", "- <address>").
//
//   NATIVEPOOL_TRACE=/tmp/cc1plus.%p.trace LD_PRELOAD=libmalloc_log.so g++ ...
//
// "%p" becomes the process id, so the processes of a pipeline write separate
// traces. It forwards to glibc's __libc_* functions, which never call back
// into malloc, so no recursion guard is needed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
extern void __libc_free(void*);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -2;  // -2: not opened yet, -1: tracing off
static char buffer[1 << 16];
static size_t used;

static void flush_locked(void) {
  for (size_t done = 0; done < used;) {
    ssize_t n = write(fd, buffer + done, used - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  used = 0;
}

static void open_locked(void) {
  const char* pattern = getenv("NATIVEPOOL_TRACE");
  fd = -1;
  if (pattern == NULL) return;
  char path[4096];
  const char* mark = strstr(pattern, "%p");
  if (mark != NULL) {
    snprintf(path, sizeof path, "%.*s%d%s", (int)(mark - pattern), pattern, (int)getpid(), mark + 2);
  } else {
    snprintf(path, sizeof path, "%s", pattern);
  }
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static void record(char op, void* ptr, size_t size) {
  if (ptr == NULL) return;
  int saved = errno;
  pthread_mutex_lock(&lock);
  if (fd == -2) open_locked();
  if (fd >= 0) {
    if (used > sizeof buffer - 64) flush_locked();
    used += (size_t)(op == '+' ? snprintf(buffer + used, 64, "+ %p %zu\n", ptr, size)
                               : snprintf(buffer + used, 64, "- %p\n", ptr));
  }
  pthread_mutex_unlock(&lock);
  errno = saved;
}

__attribute__((destructor)) static void finish(void) {
  pthread_mutex_lock(&lock);
  if (fd >= 0) flush_locked();
  pthread_mutex_unlock(&lock);
}

void* malloc(size_t size) {
  void* p = __libc_malloc(size);
  record('+', p, size);
  return p;
}

void* calloc(size_t n, size_t size) {
  void* p = __libc_calloc(n, size);
  record('+', p, n * size);
  return p;
}

void* realloc(void* old, size_t size) {
  void* p = __libc_realloc(old, size);
  if (p != NULL || size == 0) record('-', old, 0);
  record('+', p, size);
  return p;
}

void free(void* p) {
  record('-', p, 0);
  __libc_free(p);
}

void* memalign(size_t alignment, size_t size) {
  void* p = __libc_memalign(alignment, size);
  record('+', p, size);
  return p;
}

void* aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

int posix_memalign(void** out, size_t alignment, size_t size) {
  void* p = __libc_memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  record('+', p, size);
  *out = p;
  return 0;
}
