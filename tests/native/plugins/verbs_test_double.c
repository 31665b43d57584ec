/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verbs test double: a library with libibverbs' symbols (the ones the
 * rdma plugin resolves, native/plugins/rdma/verbs.h) and no hardware behind
 * them, so the plugin's registration logic runs here. The rdma plugin opens
 * it with verbs=<this library>; a test opens the same file (dlopen returns
 * the same instance) and steers it through verbs_double_configure() and
 * reads it through verbs_double_live().
 *
 * Devices are "double0", "double1", ...; a region's lkey is its registration
 * number and its rkey that plus 0x10000, so tests can predict them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "rdma/verbs.h"

#define EXPORT __attribute__((visibility("default")))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int devices = 1;
static long fail_after = -1; /* registrations left before reg_mr fails with ENOMEM; -1: never */
static long live;            /* registrations not yet undone */
static uint32_t next_key = 1;
static char names[4][16];
static int tokens[4];        /* what a "device", "context" and "pd" point at */

EXPORT void verbs_double_configure(int device_count, long registrations_before_failure) {
  pthread_mutex_lock(&lock);
  devices = device_count < 4 ? device_count : 4;
  fail_after = registrations_before_failure;
  pthread_mutex_unlock(&lock);
}

EXPORT long verbs_double_live(void) {
  pthread_mutex_lock(&lock);
  const long count = live;
  pthread_mutex_unlock(&lock);
  return count;
}

EXPORT struct ibv_device** ibv_get_device_list(int* count) {
  struct ibv_device** list = calloc(5, sizeof *list);
  if (list == NULL) return NULL;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < devices; ++i) list[i] = (struct ibv_device*)&tokens[i];
  *count = devices;
  pthread_mutex_unlock(&lock);
  return list;
}

EXPORT void ibv_free_device_list(struct ibv_device** list) { free(list); }

EXPORT const char* ibv_get_device_name(struct ibv_device* device) {
  const int index = (int)((int*)device - tokens);
  snprintf(names[index], sizeof names[index], "double%d", index);
  return names[index];
}

EXPORT struct ibv_context* ibv_open_device(struct ibv_device* device) { return (struct ibv_context*)device; }
EXPORT int ibv_close_device(struct ibv_context* context) { return context != NULL ? 0 : EINVAL; }
EXPORT struct ibv_pd* ibv_alloc_pd(struct ibv_context* context) { return (struct ibv_pd*)context; }
EXPORT int ibv_dealloc_pd(struct ibv_pd* pd) { return pd != NULL ? 0 : EINVAL; }

EXPORT struct ibv_mr* ibv_reg_mr(struct ibv_pd* pd, void* addr, size_t length, int access) {
  (void)access;
  pthread_mutex_lock(&lock);
  if (fail_after == 0) {
    pthread_mutex_unlock(&lock);
    errno = ENOMEM;
    return NULL;
  }
  if (fail_after > 0) --fail_after;
  struct ibv_mr* mr = calloc(1, sizeof *mr);
  if (mr != NULL) {
    mr->pd = pd;
    mr->addr = addr;
    mr->length = length;
    mr->lkey = next_key++;
    mr->rkey = mr->lkey + 0x10000;
    ++live;
  }
  pthread_mutex_unlock(&lock);
  return mr;
}

EXPORT int ibv_dereg_mr(struct ibv_mr* mr) {
  pthread_mutex_lock(&lock);
  --live;
  pthread_mutex_unlock(&lock);
  free(mr);
  return 0;
}
