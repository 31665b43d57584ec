// SPDX-License-Identifier: Apache-2.0
// Opens libnuma at run time, after asking the kernel whether the NUMA system
// calls work at all (HotSpot's os_linux.cpp does the same dance).
#include "libnuma.hpp"

#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nativepool::libnuma {
namespace {

struct Loaded {
  Library library{};
  bool ok = false;
  char reason[320] = "";
};

// libnuma keeps old ABIs under old versions: numa_node_to_cpus@libnuma_1.1
// takes an unsigned long buffer, @libnuma_1.2 the bitmask declared here.
// dlvsym picks the version whose signature we declared; plain dlsym covers a
// libnuma built without symbol versions.
template <class F>
bool resolve(void* handle, const char* name, const char* version, F* out) noexcept {
  void* symbol = ::dlvsym(handle, name, version);
  if (symbol == nullptr) symbol = ::dlsym(handle, name);
  *out = reinterpret_cast<F>(symbol);
  return symbol != nullptr;
}

const char* missing_symbol(void* handle, Library* lib, int (**available)()) noexcept {
  if (!resolve(handle, "numa_available", "libnuma_1.1", available)) return "numa_available";
  if (!resolve(handle, "numa_max_node", "libnuma_1.1", &lib->max_node)) return "numa_max_node";
  if (!resolve(handle, "numa_node_size64", "libnuma_1.1", &lib->node_size64)) return "numa_node_size64";
  if (!resolve(handle, "numa_distance", "libnuma_1.1", &lib->distance)) return "numa_distance";
  if (!resolve(handle, "numa_allocate_cpumask", "libnuma_1.2", &lib->allocate_cpumask)) {
    return "numa_allocate_cpumask";
  }
  if (!resolve(handle, "numa_node_to_cpus", "libnuma_1.2", &lib->node_to_cpus)) return "numa_node_to_cpus";
  if (!resolve(handle, "numa_bitmask_free", "libnuma_1.2", &lib->bitmask_free)) return "numa_bitmask_free";
  if (!resolve(handle, "mbind", "libnuma_1.1", &lib->mbind)) return "mbind";
  if (!resolve(handle, "move_pages", "libnuma_1.2", &lib->move_pages)) return "move_pages";
  return nullptr;
}

Loaded load() noexcept {
  Loaded loaded;
  // The raw system call, not libnuma's: a container without CAP_SYS_NICE or
  // a seccomp profile refuses it, and libnuma would then warn on stderr.
  int mode = 0;
  if (::syscall(SYS_get_mempolicy, &mode, nullptr, 0UL, nullptr, 0UL) != 0) {
    const int error = errno;
    const char* hint = error == EPERM    ? " (a container or seccomp profile denies the NUMA system calls)"
                       : error == ENOSYS ? " (the kernel was built without NUMA support)"
                                         : "";
    std::snprintf(loaded.reason, sizeof loaded.reason, "the kernel refuses get_mempolicy: %s%s",
                  std::strerror(error), hint);
    return loaded;
  }
  // Tests name a missing file here to see the machine without libnuma.
  const char* configured = std::getenv("NATIVEPOOL_LIBNUMA");
  const char* name = configured != nullptr && configured[0] != '\0' ? configured : "libnuma.so.1";
  // Never closed: the function pointers live as long as the process.
  void* handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::snprintf(loaded.reason, sizeof loaded.reason, "%s not found: %s", name, ::dlerror());
    return loaded;
  }
  int (*available)() = nullptr;
  if (const char* missing = missing_symbol(handle, &loaded.library, &available); missing != nullptr) {
    std::snprintf(loaded.reason, sizeof loaded.reason, "%s lacks %s", name, missing);
    return loaded;
  }
  if (available() < 0) {
    std::snprintf(loaded.reason, sizeof loaded.reason, "%s reports no NUMA support", name);
    return loaded;
  }
  loaded.ok = true;
  return loaded;
}

const Loaded& loaded() noexcept {
  static const Loaded instance = load();
  return instance;
}

}  // namespace

const Library* library() noexcept { return loaded().ok ? &loaded().library : nullptr; }

const char* reason() noexcept { return loaded().reason; }

}  // namespace nativepool::libnuma
