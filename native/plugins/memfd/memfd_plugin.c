/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memfd plugin: every region of an instance is a window onto one
 * memfd_create(2) file, mapped MAP_SHARED. That buys three things anonymous
 * mmap lacks: huge pages from hugetlbfs when the system has reserved some
 * (MFD_HUGETLB), giving pages back by punching holes in the file (free and
 * purge), and sharing a region with another process, which maps the same
 * file descriptor at the region's offset.
 *
 * File offsets are handed out by a bump pointer and never reused: a freed
 * region's range is punched out, so the sparse file holds no memory for it,
 * and a fresh offset spares any lookup of free ranges.
 *
 * Options: huge_pages=auto|on|off (auto: hugetlb when pages are reserved,
 * else small pages and a note in describe()), name=<memfd name>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nativepool/plugin.h"
#include "plugin_support.h"

/* One mapped region: where it lies in memory and in the file. */
typedef struct region {
  uintptr_t address;
  uint64_t offset;
  size_t length;
} region;

typedef struct memfd_state {
  int fd;
  size_t granule; /* the page size of the file: 4 KiB, or the huge page size */
  char name[64];
  char description[192];
  pthread_mutex_t lock; /* guards next_offset and regions */
  uint64_t next_offset;
  region* regions;
  size_t count;
  size_t capacity;
} memfd_state;

/* The huge page size hugetlbfs uses by default, 0 if none are reserved. */
static size_t reserved_huge_page(long* reserved) {
  FILE* in = fopen("/proc/meminfo", "r");
  char line[128];
  size_t size_kib = 0;
  *reserved = 0;
  if (in == NULL) return 0;
  while (fgets(line, sizeof line, in) != NULL) {
    sscanf(line, "HugePages_Total: %ld", reserved);
    sscanf(line, "Hugepagesize: %zu kB", &size_kib);
  }
  fclose(in);
  return *reserved > 0 ? size_kib * 1024 : 0;
}

static int parse_options(const nativepool_plugin_option* options, size_t count, int* huge, const char** name) {
  for (size_t i = 0; i < count; ++i) {
    const char* key = options[i].key;
    const char* value = options[i].value;
    if (strcmp(key, "huge_pages") == 0) {
      if (strcmp(value, "auto") == 0) *huge = -1;
      else if (strcmp(value, "on") == 0) *huge = 1;
      else if (strcmp(value, "off") == 0) *huge = 0;
      else return np_failed(NATIVEPOOL_PLUGIN_INVALID_OPTION, "huge_pages must be auto, on or off, not '%s'", value);
    } else if (strcmp(key, "name") == 0) {
      *name = value;
    } else {
      return np_failed(NATIVEPOOL_PLUGIN_INVALID_OPTION,
                    "unknown option '%s' (memfd takes huge_pages=auto|on|off and name=<text>)", key);
    }
  }
  return NATIVEPOOL_PLUGIN_OK;
}

static int memfd_init(const nativepool_plugin_option* options, size_t count, void** out) {
  int huge = -1;
  const char* name = "nativepool";
  int result = parse_options(options, count, &huge, &name);
  if (result != NATIVEPOOL_PLUGIN_OK) return result;
  long reserved = 0;
  const size_t huge_page = huge != 0 ? reserved_huge_page(&reserved) : 0;
  if (huge == 1 && huge_page == 0) {
    return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "huge_pages=on, but no huge pages are reserved (vm.nr_hugepages is 0)");
  }
  memfd_state* state = calloc(1, sizeof *state);
  if (state == NULL) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "no memory for the plugin state");
  state->fd = huge_page != 0 ? memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB) : -1;
  if (state->fd >= 0) {
    state->granule = huge_page;
    snprintf(state->description, sizeof state->description, "huge pages of %zu KiB from hugetlbfs (%ld reserved)",
             huge_page / 1024, reserved);
  } else if (huge == 1) {
    const int error = errno;
    free(state);
    return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "huge_pages=on, but hugetlbfs refused a memfd: %s", strerror(error));
  } else {
    state->fd = memfd_create(name, MFD_CLOEXEC);
    if (state->fd < 0) {
      free(state);
      return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "memfd_create: %s", strerror(errno));
    }
    state->granule = (size_t)sysconf(_SC_PAGESIZE);
    snprintf(state->description, sizeof state->description, "small pages of %zu KiB%s", state->granule / 1024,
             huge == 0           ? " (huge_pages=off)"
             : huge_page == 0    ? ": no huge pages reserved (vm.nr_hugepages is 0), fell back"
                                 : ": hugetlbfs refused a memfd, fell back");
  }
  snprintf(state->name, sizeof state->name, "memfd%s", state->granule > (size_t)sysconf(_SC_PAGESIZE) ? "+huge" : "");
  pthread_mutex_init(&state->lock, NULL);
  *out = state;
  return NATIVEPOOL_PLUGIN_OK;
}

static void memfd_finalize(void* opaque) {
  memfd_state* state = opaque;
  close(state->fd);
  pthread_mutex_destroy(&state->lock);
  free(state->regions);
  free(state);
}

static size_t round_up(size_t value, size_t align) { return (value + align - 1) & ~(align - 1); }

/* The region that starts at address, or NULL; called with the lock held. */
static region* find(memfd_state* state, const void* address) {
  for (size_t i = 0; i < state->count; ++i) {
    if (state->regions[i].address == (uintptr_t)address) return &state->regions[i];
  }
  return NULL;
}

static int remember(memfd_state* state, region entry) {
  if (state->count == state->capacity) {
    size_t capacity = state->capacity ? state->capacity * 2 : 16;
    region* grown = realloc(state->regions, capacity * sizeof *grown);
    if (grown == NULL) return 0;
    state->regions = grown;
    state->capacity = capacity;
  }
  state->regions[state->count++] = entry;
  return 1;
}

/* Reserves the file range and an aligned window of address space for it. */
static int memfd_alloc(void* opaque, size_t size, size_t alignment, void** out) {
  memfd_state* state = opaque;
  const size_t length = round_up(size, state->granule);
  const size_t align = alignment > state->granule ? alignment : state->granule;
  if (length < size || length + align < length) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "%zu bytes is too large", size);
  pthread_mutex_lock(&state->lock);
  const uint64_t offset = state->next_offset;
  if (ftruncate(state->fd, (off_t)(offset + length)) != 0) {
    pthread_mutex_unlock(&state->lock);
    return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "ftruncate to %llu bytes: %s",
                  (unsigned long long)(offset + length), strerror(errno));
  }
  state->next_offset = offset + length;
  pthread_mutex_unlock(&state->lock);
  /* An aligned window of address space, then the file mapped over it. */
  void* window = np_map_aligned(length, align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
  if (window == NULL) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "mmap of %zu bytes: %s", length, strerror(errno));
  const uintptr_t aligned = (uintptr_t)window;
  if (mmap(window, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, state->fd, (off_t)offset) == MAP_FAILED) {
    const int error = errno;
    munmap(window, length);
    return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "mmap of the file at %llu: %s", (unsigned long long)offset,
                     strerror(error));
  }
  pthread_mutex_lock(&state->lock);
  const int kept = remember(state, (region){aligned, offset, length});
  pthread_mutex_unlock(&state->lock);
  if (!kept) {
    munmap((void*)aligned, length);
    fallocate(state->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
    return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "no memory for the region table");
  }
  *out = (void*)aligned;
  return NATIVEPOOL_PLUGIN_OK;
}

/* Unmaps the region and punches its range out of the file: the pages go back to the kernel. */
static int memfd_free(void* opaque, void* address, size_t size, size_t alignment) {
  (void)size;
  (void)alignment;
  memfd_state* state = opaque;
  pthread_mutex_lock(&state->lock);
  region* entry = find(state, address);
  if (entry == NULL) {
    pthread_mutex_unlock(&state->lock);
    return np_failed(NATIVEPOOL_PLUGIN_FAILED, "%p is not a region of this instance", address);
  }
  const region gone = *entry;
  *entry = state->regions[--state->count];
  pthread_mutex_unlock(&state->lock);
  munmap((void*)gone.address, gone.length);
  if (fallocate(state->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gone.offset, (off_t)gone.length) != 0) {
    return np_failed(NATIVEPOOL_PLUGIN_FAILED, "punching out %zu bytes: %s", gone.length, strerror(errno));
  }
  return NATIVEPOOL_PLUGIN_OK;
}

static int lookup(memfd_state* state, void* address, region* out) {
  pthread_mutex_lock(&state->lock);
  region* entry = find(state, address);
  if (entry != NULL) *out = *entry;
  pthread_mutex_unlock(&state->lock);
  return entry != NULL ? NATIVEPOOL_PLUGIN_OK : np_failed(NATIVEPOOL_PLUGIN_FAILED, "%p is not a region of this instance", address);
}

/* Punches the whole pages of the range out of the file; the range reads as zeros. */
static int memfd_purge(void* opaque, void* address, size_t size, size_t offset, size_t length) {
  (void)size;
  memfd_state* state = opaque;
  region entry = {0}; /* lookup fills it; zeroed so -O3 sees no maybe-uninitialised path */
  if (lookup(state, address, &entry) != NATIVEPOOL_PLUGIN_OK) return NATIVEPOOL_PLUGIN_FAILED;
  const size_t start = round_up(offset, state->granule);
  const size_t end = (offset + length) & ~(state->granule - 1);
  if (end <= start) return NATIVEPOOL_PLUGIN_OK; /* no whole page inside */
  if (fallocate(state->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(entry.offset + start),
                (off_t)(end - start)) != 0) {
    return np_failed(NATIVEPOOL_PLUGIN_FAILED, "punching out %zu bytes: %s", end - start, strerror(errno));
  }
  return NATIVEPOOL_PLUGIN_OK;
}

static int memfd_export(void* opaque, void* address, size_t size, nativepool_plugin_export* out) {
  (void)size;
  memfd_state* state = opaque;
  region entry = {0};
  if (lookup(state, address, &entry) != NATIVEPOOL_PLUGIN_OK) return NATIVEPOOL_PLUGIN_FAILED;
  out->fd = state->fd;
  out->offset = entry.offset;
  out->length = entry.length;
  return NATIVEPOOL_PLUGIN_OK;
}

static int memfd_kind(void* opaque, int* kind, int* device) {
  (void)opaque;
  *kind = NATIVEPOOL_PLUGIN_HOST;
  *device = -1;
  return NATIVEPOOL_PLUGIN_OK;
}

static const char* memfd_name(void* opaque) { return ((memfd_state*)opaque)->name; }
static const char* memfd_describe(void* opaque) { return ((memfd_state*)opaque)->description; }

__attribute__((visibility("default"))) const nativepool_plugin_ops* NATIVEPOOL_PLUGIN_ENTRY(void) {
  static const nativepool_plugin_ops ops = {
      .struct_size = sizeof(nativepool_plugin_ops),
      .abi_major = NATIVEPOOL_PLUGIN_ABI_MAJOR,
      .abi_minor = NATIVEPOOL_PLUGIN_ABI_MINOR,
      .init = memfd_init,
      .finalize = memfd_finalize,
      .alloc = memfd_alloc,
      .free = memfd_free,
      .name = memfd_name,
      .last_error = np_last_error,
      .describe = memfd_describe,
      .purge = memfd_purge,
      .memory_kind = memfd_kind,
      .export_region = memfd_export,
  };
  return &ops;
}
