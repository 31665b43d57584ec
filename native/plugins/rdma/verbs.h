/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few libibverbs declarations the rdma plugin uses, written from
 * rdma-core's public ABI (IBVERBS_1.1, unchanged since 2006) rather than
 * included from <infiniband/verbs.h>: the plugin then builds where
 * libibverbs-dev is absent and dlopen's libibverbs at run time, so the JAR
 * loads on machines without rdma-core. Only the leading fields of ibv_mr are
 * read, and those are the ABI's fixed prefix.
 */
#ifndef NATIVEPOOL_RDMA_VERBS_H
#define NATIVEPOOL_RDMA_VERBS_H

#include <stddef.h>
#include <stdint.h>

struct ibv_device;
struct ibv_context;
struct ibv_pd;

struct ibv_mr {
  struct ibv_context* context;
  struct ibv_pd* pd;
  void* addr;
  size_t length;
  uint32_t handle;
  uint32_t lkey;
  uint32_t rkey;
};

enum { IBV_ACCESS_LOCAL_WRITE = 1, IBV_ACCESS_REMOTE_WRITE = 2, IBV_ACCESS_REMOTE_READ = 4 };

/* The verbs the plugin calls, resolved from whichever library it opens:
   libibverbs.so.1, or a test double with the same symbols (option verbs=). */
typedef struct rdma_verbs {
  struct ibv_device** (*get_device_list)(int* count);
  void (*free_device_list)(struct ibv_device** list);
  const char* (*get_device_name)(struct ibv_device* device);
  struct ibv_context* (*open_device)(struct ibv_device* device);
  int (*close_device)(struct ibv_context* context);
  struct ibv_pd* (*alloc_pd)(struct ibv_context* context);
  int (*dealloc_pd)(struct ibv_pd* pd);
  struct ibv_mr* (*reg_mr)(struct ibv_pd* pd, void* addr, size_t length, int access);
  int (*dereg_mr)(struct ibv_mr* mr);
} rdma_verbs;

#endif
