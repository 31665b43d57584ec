/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A deliberately misbehaving plugin for the distrust and ABI tests (never
 * bundled). Option mode= picks the misbehaviour; compile definitions build
 * the ABI variants from the same source:
 *   NP_TEST_OLD_MINOR   a table of minor 0 (only the required entries)
 *   NP_TEST_NEWER_MINOR a table one minor newer, larger than the core's
 *   NP_TEST_NEW_MAJOR   a table of the next major
 *   NP_TEST_TRUNCATED   a table that ends before the required entries do
 *   NP_TEST_NO_ENTRY    no NATIVEPOOL_PLUGIN_ENTRY symbol at all
 * Regions come from aligned_alloc; each keeps a header-free record in a
 * small table so free() can find what it really allocated.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_support.h"
#include "nativepool/plugin.h"

enum mode { GOOD, NULL_REGION, MISALIGNED, OVERLAP, FAIL_ALLOC, OUT_OF_MEMORY, FAIL_FREE, FAIL_REGISTER };

typedef struct test_state {
  enum mode mode;
  pthread_mutex_t lock;
  void* first;        /* the first region, which OVERLAP hands out again */
  size_t first_size;
  long live;          /* regions allocated and not yet freed */
} test_state;

static int test_init(const nativepool_plugin_option* options, size_t count, void** out) {
  enum mode mode = GOOD;
  static const char* const names[] = {"good", "null", "misaligned", "overlap", "fail_alloc", "oom", "fail_free",
                                      "fail_register"};
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(options[i].key, "unavailable") == 0) {
      return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "the test device is absent");
    }
    if (strcmp(options[i].key, "mode") != 0) {
      return np_failed(NATIVEPOOL_PLUGIN_INVALID_OPTION, "unknown option '%s'", options[i].key);
    }
    size_t m = 0;
    while (m < sizeof names / sizeof names[0] && strcmp(names[m], options[i].value) != 0) ++m;
    if (m == sizeof names / sizeof names[0]) {
      return np_failed(NATIVEPOOL_PLUGIN_INVALID_OPTION, "mode '%s' is not one the test plugin knows", options[i].value);
    }
    mode = (enum mode)m;
  }
  test_state* state = calloc(1, sizeof *state);
  if (state == NULL) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "no memory");
  state->mode = mode;
  pthread_mutex_init(&state->lock, NULL);
  *out = state;
  return NATIVEPOOL_PLUGIN_OK;
}

static void test_finalize(void* opaque) {
  test_state* state = opaque;
  pthread_mutex_destroy(&state->lock);
  free(state);
}

static int test_alloc(void* opaque, size_t size, size_t alignment, void** region) {
  test_state* state = opaque;
  switch (state->mode) {
    case NULL_REGION: *region = NULL; return NATIVEPOOL_PLUGIN_OK;
    case FAIL_ALLOC: return np_failed(NATIVEPOOL_PLUGIN_FAILED, "the test plugin refuses to allocate");
    case OUT_OF_MEMORY: return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "the test plugin is out of memory");
    default: break;
  }
  pthread_mutex_lock(&state->lock);
  if (state->mode == OVERLAP && state->first != NULL) {
    *region = (char*)state->first + (state->first_size / 2 / alignment) * alignment;
    pthread_mutex_unlock(&state->lock);
    return NATIVEPOOL_PLUGIN_OK;
  }
  pthread_mutex_unlock(&state->lock);
  /* MISALIGNED allocates one alignment more and returns a pointer 8 bytes in. */
  const size_t extra = state->mode == MISALIGNED ? alignment : 0;
  const size_t total = (size + extra + alignment - 1) & ~(alignment - 1);
  char* memory = aligned_alloc(alignment < sizeof(void*) ? sizeof(void*) : alignment, total);
  if (memory == NULL) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "aligned_alloc failed");
  pthread_mutex_lock(&state->lock);
  if (state->first == NULL) {
    state->first = memory;
    state->first_size = size;
  }
  ++state->live;
  pthread_mutex_unlock(&state->lock);
  *region = state->mode == MISALIGNED ? memory + 8 : memory;
  return NATIVEPOOL_PLUGIN_OK;
}

static int test_free(void* opaque, void* region, size_t size, size_t alignment) {
  (void)size;
  (void)alignment;
  test_state* state = opaque;
  pthread_mutex_lock(&state->lock);
  if (region == state->first) state->first = NULL;
  --state->live;
  pthread_mutex_unlock(&state->lock);
  free(state->mode == MISALIGNED ? (char*)region - 8 : (char*)region);
  return state->mode == FAIL_FREE ? np_failed(NATIVEPOOL_PLUGIN_FAILED, "the test plugin fails to free") : NATIVEPOOL_PLUGIN_OK;
}

static const char* test_name(void* opaque) {
  (void)opaque;
  return "misbehaving";
}


static const char* test_describe(void* opaque) {
  static _Thread_local char text[64];
  test_state* state = opaque;
  pthread_mutex_lock(&state->lock);
  snprintf(text, sizeof text, "%ld live regions", state->live);
  pthread_mutex_unlock(&state->lock);
  return text;
}

/* Keys a test can predict: the region's address and size. */
static int test_register(void* opaque, void* region, size_t size, nativepool_plugin_keys* keys) {
  test_state* state = opaque;
  if (state->mode == FAIL_REGISTER) return np_failed(NATIVEPOOL_PLUGIN_FAILED, "the test device refuses registration");
  keys->local_key = (uint64_t)(uintptr_t)region;
  keys->remote_key = size;
  keys->handle = region;
  return NATIVEPOOL_PLUGIN_OK;
}

static int test_deregister(void* opaque, void* region, size_t size, const nativepool_plugin_keys* keys) {
  (void)opaque;
  (void)size;
  return keys->handle == region ? NATIVEPOOL_PLUGIN_OK : np_failed(NATIVEPOOL_PLUGIN_FAILED, "keys of another region");
}

/* A table with room after it, so NP_TEST_NEWER_MINOR can claim entries the core does not know. */
static const struct {
  nativepool_plugin_ops ops;
  void* newer_entries[2];
} table = {{
#if defined(NP_TEST_OLD_MINOR)
    .struct_size = NATIVEPOOL_PLUGIN_REQUIRED_SIZE,
    .abi_minor = 0,
#elif defined(NP_TEST_NEWER_MINOR)
    .struct_size = sizeof(nativepool_plugin_ops) + 2 * sizeof(void*),
    .abi_minor = NATIVEPOOL_PLUGIN_ABI_MINOR + 1,
#elif defined(NP_TEST_TRUNCATED)
    .struct_size = offsetof(nativepool_plugin_ops, alloc),
    .abi_minor = NATIVEPOOL_PLUGIN_ABI_MINOR,
#else
    .struct_size = sizeof(nativepool_plugin_ops),
    .abi_minor = NATIVEPOOL_PLUGIN_ABI_MINOR,
#endif
#if defined(NP_TEST_NEW_MAJOR)
    .abi_major = NATIVEPOOL_PLUGIN_ABI_MAJOR + 1,
#else
    .abi_major = NATIVEPOOL_PLUGIN_ABI_MAJOR,
#endif
    .init = test_init,
    .finalize = test_finalize,
    .alloc = test_alloc,
    .free = test_free,
    .name = test_name,
    .last_error = np_last_error,
    .describe = test_describe,
    .register_region = test_register,
    .deregister_region = test_deregister,
}, {NULL, NULL}};

#if defined(NP_TEST_NO_ENTRY)
__attribute__((visibility("default"))) const nativepool_plugin_ops* not_the_entry(void) { return &table.ops; }
#else
__attribute__((visibility("default"))) const nativepool_plugin_ops* NATIVEPOOL_PLUGIN_ENTRY(void) { return &table.ops; }
#endif
