/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file plugin.h
 * @brief The stable C ABI of nativepool backend plugins.
 *
 * A plugin is a shared library that supplies regions; nativepool's pools
 * carve them into blocks and give the plugin every pool feature (thread
 * safety, safety levels, stats, leak reports, trim) without a line of code in
 * the plugin. The library exports one function, NATIVEPOOL_PLUGIN_ENTRY,
 * which returns a table of function pointers. The table starts with its own
 * size and the ABI version it was built against (the DLPack and PJRT
 * discipline), so:
 *
 * - the ABI major changes only when a field changes meaning or moves; the
 *   core refuses a table of another major;
 * - a minor release only appends fields. The core reads a field only when
 *   the table's struct_size covers it, so a plugin built against an older
 *   minor keeps working (its newer entries count as absent), and a plugin
 *   built against a newer minor loads into an older core (which ignores what
 *   it does not know);
 * - a table smaller than the required entries (NATIVEPOOL_PLUGIN_REQUIRED_SIZE)
 *   is refused.
 *
 * Entries of minor 0 are required; later minors' entries are optional and
 * may also be null. Every call may come from any thread, concurrently: a
 * plugin that needs serialisation brings its own lock. Functions return
 * NATIVEPOOL_PLUGIN_OK or an error code and then leave a message for
 * last_error() on the calling thread. Plain C: no C++ type crosses the ABI.
 */
#ifndef NATIVEPOOL_PLUGIN_H
#define NATIVEPOOL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI major version: a table of another major is refused. */
#define NATIVEPOOL_PLUGIN_ABI_MAJOR 1
/** ABI minor version of this header: entries are only ever appended. */
#define NATIVEPOOL_PLUGIN_ABI_MINOR 1

/** The one symbol a plugin exports. */
#define NATIVEPOOL_PLUGIN_ENTRY nativepool_plugin_entry
/** NATIVEPOOL_PLUGIN_ENTRY as a string, for dlsym. */
#define NATIVEPOOL_PLUGIN_ENTRY_NAME "nativepool_plugin_entry"

/** Return codes of the plugin entries. */
enum nativepool_plugin_result {
  NATIVEPOOL_PLUGIN_OK = 0,            /**< success */
  NATIVEPOOL_PLUGIN_INVALID_OPTION = 1, /**< init(): an option is unknown or its value is bad */
  NATIVEPOOL_PLUGIN_OUT_OF_MEMORY = 2, /**< the plugin has no memory for the request: the pool cannot grow */
  NATIVEPOOL_PLUGIN_UNAVAILABLE = 3,   /**< what the plugin needs (a device, a library) is absent here */
  NATIVEPOOL_PLUGIN_FAILED = 4,        /**< any other failure; last_error() says what */
};

/** Memory kinds, the values of nativepool::MemoryKind. */
enum nativepool_plugin_memory_kind {
  NATIVEPOOL_PLUGIN_HOST = 0,         /**< pageable host memory */
  NATIVEPOOL_PLUGIN_NUMA_HOST = 1,    /**< host memory bound to a NUMA node (device: the node) */
  NATIVEPOOL_PLUGIN_PINNED_HOST = 2,  /**< page-locked host memory */
  NATIVEPOOL_PLUGIN_DEVICE = 3,       /**< memory the CPU cannot address (device: its ordinal) */
  NATIVEPOOL_PLUGIN_PERSISTENT = 4,   /**< a mapped persistent-memory or DAX file */
};

/** One option of init(): both strings are NUL-terminated UTF-8. */
typedef struct nativepool_plugin_option {
  const char* key;   /**< the option's name, as the user wrote it */
  const char* value; /**< its value, as the user wrote it */
} nativepool_plugin_option;

/** The keys a device gave a region when it was registered (RDMA lkey/rkey). */
typedef struct nativepool_plugin_keys {
  uint64_t local_key;  /**< the key local operations name (ibv_mr.lkey) */
  uint64_t remote_key; /**< the key a peer names in remote operations (ibv_mr.rkey) */
  void* handle;        /**< the plugin's own record of the registration, passed back to deregister_region() */
} nativepool_plugin_keys;

/** How another process reaches a region: map @c length bytes of @c fd at @c offset. */
typedef struct nativepool_plugin_export {
  int fd;          /**< a file descriptor of this process; stays open as long as the region */
  uint64_t offset; /**< where the region starts in the file */
  uint64_t length; /**< bytes to map */
} nativepool_plugin_export;

/** The plugin's table. All pointers stay valid as long as the library is loaded. */
typedef struct nativepool_plugin_ops {
  /** sizeof(nativepool_plugin_ops) as the plugin was compiled: says which entries exist. */
  size_t struct_size;
  /** NATIVEPOOL_PLUGIN_ABI_MAJOR as the plugin was compiled. */
  uint32_t abi_major;
  /** NATIVEPOOL_PLUGIN_ABI_MINOR as the plugin was compiled. */
  uint32_t abi_minor;

  /* ---- minor 0: required ---- */

  /**
   * Creates one instance from @p count options. Stores the instance in
   * @p state (the first argument of every other entry). An unknown option or
   * a bad value: NATIVEPOOL_PLUGIN_INVALID_OPTION with a message naming it.
   */
  int (*init)(const nativepool_plugin_option* options, size_t count, void** state);
  /** Destroys an instance once no region of it is live. */
  void (*finalize)(void* state);
  /**
   * Reserves @p size bytes aligned to @p alignment (a power of two), readable
   * and writable at once for host kinds. Stores the region in @p region.
   * The core checks the result: null, misaligned or overlapping a live
   * region is refused.
   */
  int (*alloc)(void* state, size_t size, size_t alignment, void** region);
  /** Returns a region with the size and alignment it was reserved with. */
  int (*free)(void* state, void* region, size_t size, size_t alignment);
  /** A short name of the instance, e.g. "memfd" (pools report it as their backend). */
  const char* (*name)(void* state);
  /** The message of the most recent failure on the calling thread (never null). */
  const char* (*last_error)(void);

  /* ---- minor 1: optional, present when struct_size covers them and not null ---- */

  /** What the instance found on this machine, one line (e.g. "huge pages: none reserved, small pages"). */
  const char* (*describe)(void* state);
  /**
   * Gives back the pages of [@p offset, @p offset + @p length) of a live
   * region (e.g. a punched hole): the range reads as zeros afterwards.
   */
  int (*purge)(void* state, void* region, size_t size, size_t offset, size_t length);
  /** Stores the instance's memory kind (nativepool_plugin_memory_kind) and device (or -1). */
  int (*memory_kind)(void* state, int* kind, int* device);
  /** Registers a live region with the plugin's device and stores its keys. */
  int (*register_region)(void* state, void* region, size_t size, nativepool_plugin_keys* keys);
  /** Undoes register_region() before the region is freed. */
  int (*deregister_region)(void* state, void* region, size_t size, const nativepool_plugin_keys* keys);
  /** Describes how another process maps a live region. */
  int (*export_region)(void* state, void* region, size_t size, nativepool_plugin_export* out);
} nativepool_plugin_ops;

/** The bytes every table must cover: the required entries of minor 0. */
#define NATIVEPOOL_PLUGIN_REQUIRED_SIZE (offsetof(nativepool_plugin_ops, last_error) + sizeof(void*))

/** The entry a plugin exports; returns its table (static storage). */
typedef const nativepool_plugin_ops* (*nativepool_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* NATIVEPOOL_PLUGIN_H */
