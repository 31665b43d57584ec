/* A complete backend plugin: regions from aligned_alloc, at most limit=<bytes> of them. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nativepool/plugin.h"

static _Thread_local char error[128];
typedef struct { size_t limit; atomic_size_t used; } state_t;

static int init(const nativepool_plugin_option* options, size_t count, void** out) {
  size_t limit = (size_t)1 << 30;
  for (size_t i = 0; i < count; ++i) {
    char* end = NULL;
    if (strcmp(options[i].key, "limit") != 0 || (limit = strtoull(options[i].value, &end, 10), *end != '\0')) {
      snprintf(error, sizeof error, "bad option %s=%s (takes limit=<bytes>)", options[i].key, options[i].value);
      return NATIVEPOOL_PLUGIN_INVALID_OPTION;
    }
  }
  state_t* state = calloc(1, sizeof *state);
  if (state == NULL) return NATIVEPOOL_PLUGIN_OUT_OF_MEMORY;
  state->limit = limit;
  *out = state;
  return NATIVEPOOL_PLUGIN_OK;
}

static void finalize(void* state) { free(state); }

static int alloc(void* opaque, size_t size, size_t alignment, void** region) {
  state_t* state = opaque;
  size = (size + alignment - 1) & ~(alignment - 1);  /* aligned_alloc wants a multiple */
  if (atomic_fetch_add(&state->used, size) + size > state->limit || (*region = aligned_alloc(alignment, size)) == NULL) {
    atomic_fetch_sub(&state->used, size);
    snprintf(error, sizeof error, "%zu more bytes would pass the limit of %zu", size, state->limit);
    return NATIVEPOOL_PLUGIN_OUT_OF_MEMORY;
  }
  return NATIVEPOOL_PLUGIN_OK;
}

static int release(void* opaque, void* region, size_t size, size_t alignment) {
  atomic_fetch_sub(&((state_t*)opaque)->used, (size + alignment - 1) & ~(alignment - 1));
  free(region);
  return NATIVEPOOL_PLUGIN_OK;
}

static const char* name(void* state) { (void)state; return "example"; }
static const char* last_error(void) { return error; }

__attribute__((visibility("default"))) const nativepool_plugin_ops* NATIVEPOOL_PLUGIN_ENTRY(void) {
  static const nativepool_plugin_ops ops = {
      .struct_size = NATIVEPOOL_PLUGIN_REQUIRED_SIZE, .abi_major = NATIVEPOOL_PLUGIN_ABI_MAJOR, .abi_minor = 0,
      .init = init, .finalize = finalize, .alloc = alloc, .free = release, .name = name, .last_error = last_error};
  return &ops;
}
