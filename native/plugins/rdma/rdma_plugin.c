/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rdma plugin: host regions registered with an RDMA device by
 * ibv_reg_mr, so every block reports the keys (lkey, rkey) a work request
 * names. libibverbs is dlopen'ed when an instance starts; without it, or
 * with no device, init() says so and the backend is FeatureUnavailable.
 *
 * Options: device=<name> (default: the first device), verbs=<library>
 * (default libibverbs.so.1; the tests name the verbs test double here).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nativepool/plugin.h"
#include "plugin_support.h"
#include "verbs.h"

typedef struct rdma_state {
  void* library;
  rdma_verbs verbs;
  struct ibv_context* context;
  struct ibv_pd* pd;
  char name[96];
  char description[192];
} rdma_state;

/* rdma-core versions its symbols; a double need not. */
static void* resolve(void* library, const char* name) {
  void* symbol = dlvsym(library, name, "IBVERBS_1.1");
  return symbol != NULL ? symbol : dlsym(library, name);
}

static const char* load_verbs(void* library, rdma_verbs* verbs) {
#define NP_VERB(field, symbol)                                   \
  if ((*(void**)&verbs->field = resolve(library, symbol)) == NULL) return symbol
  NP_VERB(get_device_list, "ibv_get_device_list");
  NP_VERB(free_device_list, "ibv_free_device_list");
  NP_VERB(get_device_name, "ibv_get_device_name");
  NP_VERB(open_device, "ibv_open_device");
  NP_VERB(close_device, "ibv_close_device");
  NP_VERB(alloc_pd, "ibv_alloc_pd");
  NP_VERB(dealloc_pd, "ibv_dealloc_pd");
  NP_VERB(reg_mr, "ibv_reg_mr");
  NP_VERB(dereg_mr, "ibv_dereg_mr");
#undef NP_VERB
  return NULL;
}

/* Opens the named device (or the first), and a protection domain on it. */
static int open_device(rdma_state* state, const char* wanted, const char* library) {
  int count = 0;
  struct ibv_device** devices = state->verbs.get_device_list(&count);
  if (devices == NULL || count == 0) {
    if (devices != NULL) state->verbs.free_device_list(devices);
    return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "no RDMA device: %s found 0%s%s", library,
                  errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
  }
  int chosen = -1;
  for (int i = 0; i < count && chosen < 0; ++i) {
    if (wanted == NULL || strcmp(state->verbs.get_device_name(devices[i]), wanted) == 0) chosen = i;
  }
  if (chosen < 0) {
    state->verbs.free_device_list(devices);
    return np_failed(NATIVEPOOL_PLUGIN_INVALID_OPTION, "no RDMA device is named '%s' (%d found)", wanted, count);
  }
  const char* device = state->verbs.get_device_name(devices[chosen]);
  snprintf(state->name, sizeof state->name, "rdma:%s", device);
  snprintf(state->description, sizeof state->description, "device %s (%d of %d) through %s", device, chosen + 1,
           count, library);
  state->context = state->verbs.open_device(devices[chosen]);
  state->verbs.free_device_list(devices);
  if (state->context == NULL) return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "ibv_open_device(%s) failed", state->name + 5);
  state->pd = state->verbs.alloc_pd(state->context);
  if (state->pd == NULL) {
    state->verbs.close_device(state->context);
    return np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "ibv_alloc_pd on %s failed", state->name + 5);
  }
  return NATIVEPOOL_PLUGIN_OK;
}

static int rdma_init(const nativepool_plugin_option* options, size_t count, void** out) {
  const char* device = NULL;
  const char* library = "libibverbs.so.1";
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(options[i].key, "device") == 0) device = options[i].value;
    else if (strcmp(options[i].key, "verbs") == 0) library = options[i].value;
    else return np_failed(NATIVEPOOL_PLUGIN_INVALID_OPTION, "unknown option '%s' (rdma takes device=<name>, verbs=<library>)", options[i].key);
  }
  rdma_state* state = calloc(1, sizeof *state);
  if (state == NULL) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "no memory for the plugin state");
  state->library = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  const char* missing = NULL;
  int result = NATIVEPOOL_PLUGIN_OK;
  if (state->library == NULL) {
    result = np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "%s not found: %s", library, dlerror());
  } else if ((missing = load_verbs(state->library, &state->verbs)) != NULL) {
    result = np_failed(NATIVEPOOL_PLUGIN_UNAVAILABLE, "%s lacks %s", library, missing);
  } else {
    errno = 0;
    result = open_device(state, device, library);
  }
  if (result != NATIVEPOOL_PLUGIN_OK) {
    if (state->library != NULL) dlclose(state->library);
    free(state);
    return result;
  }
  *out = state;
  return NATIVEPOOL_PLUGIN_OK;
}

static void rdma_finalize(void* opaque) {
  rdma_state* state = opaque;
  state->verbs.dealloc_pd(state->pd);
  state->verbs.close_device(state->context);
  dlclose(state->library);
  free(state);
}

/* Page-aligned anonymous memory: registration pins whole pages. */
static int rdma_alloc(void* opaque, size_t size, size_t alignment, void** out) {
  (void)opaque;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t align = alignment > page ? alignment : page;
  const size_t length = (size + page - 1) & ~(page - 1);
  if (length < size || length + align < length) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "%zu bytes is too large", size);
  void* region = np_map_aligned(length, align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (region == NULL) return np_failed(NATIVEPOOL_PLUGIN_OUT_OF_MEMORY, "mmap of %zu bytes: %s", length, strerror(errno));
  *out = region;
  return NATIVEPOOL_PLUGIN_OK;
}

static int rdma_free(void* opaque, void* region, size_t size, size_t alignment) {
  (void)opaque;
  (void)alignment;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return munmap(region, (size + page - 1) & ~(page - 1)) == 0
             ? NATIVEPOOL_PLUGIN_OK
             : np_failed(NATIVEPOOL_PLUGIN_FAILED, "munmap: %s", strerror(errno));
}

static int rdma_register(void* opaque, void* region, size_t size, nativepool_plugin_keys* keys) {
  rdma_state* state = opaque;
  errno = 0;
  struct ibv_mr* mr = state->verbs.reg_mr(state->pd, region, size,
                                          IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE);
  if (mr == NULL) {
    /* ENOMEM is the usual refusal: the locked-memory limit (ulimit -l) is spent. */
    return np_failed(errno == ENOMEM ? NATIVEPOOL_PLUGIN_OUT_OF_MEMORY : NATIVEPOOL_PLUGIN_FAILED,
                  "ibv_reg_mr of %zu bytes on %s: %s", size, state->name + 5, strerror(errno != 0 ? errno : EIO));
  }
  keys->local_key = mr->lkey;
  keys->remote_key = mr->rkey;
  keys->handle = mr;
  return NATIVEPOOL_PLUGIN_OK;
}

static int rdma_deregister(void* opaque, void* region, size_t size, const nativepool_plugin_keys* keys) {
  (void)region;
  (void)size;
  rdma_state* state = opaque;
  const int error = state->verbs.dereg_mr(keys->handle);
  return error == 0 ? NATIVEPOOL_PLUGIN_OK : np_failed(NATIVEPOOL_PLUGIN_FAILED, "ibv_dereg_mr: %s", strerror(error));
}

static int rdma_kind(void* opaque, int* kind, int* device) {
  (void)opaque;
  *kind = NATIVEPOOL_PLUGIN_HOST;
  *device = -1;
  return NATIVEPOOL_PLUGIN_OK;
}

static const char* rdma_name(void* opaque) { return ((rdma_state*)opaque)->name; }
static const char* rdma_describe(void* opaque) { return ((rdma_state*)opaque)->description; }

__attribute__((visibility("default"))) const nativepool_plugin_ops* NATIVEPOOL_PLUGIN_ENTRY(void) {
  static const nativepool_plugin_ops ops = {
      .struct_size = sizeof(nativepool_plugin_ops),
      .abi_major = NATIVEPOOL_PLUGIN_ABI_MAJOR,
      .abi_minor = NATIVEPOOL_PLUGIN_ABI_MINOR,
      .init = rdma_init,
      .finalize = rdma_finalize,
      .alloc = rdma_alloc,
      .free = rdma_free,
      .name = rdma_name,
      .last_error = np_last_error,
      .describe = rdma_describe,
      .memory_kind = rdma_kind,
      .register_region = rdma_register,
      .deregister_region = rdma_deregister,
  };
  return &ops;
}
