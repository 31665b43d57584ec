// SPDX-License-Identifier: Apache-2.0
// System calls on a persistent heap's file that opening (persistent_heap.cpp)
// and growth (persistent_growth.cpp) share: their failures as a Status, and
// the shared mapping of the file (internal to the core).
#pragma once

#include <sys/mman.h>

#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "nativepool/persistent_media.hpp"
#include "nativepool/status.hpp"

namespace nativepool::persistent_file {

inline Status io_failure(const char* call, const char* path) noexcept {
  return fail(Status::kIoError, "%s(%s): %s", call, path, std::strerror(errno));
}

// A full disk is out of pool memory (free space or ask for less), any other
// failure of posix_fallocate an I/O error.
inline Status fallocate_failure(int error, const char* path, std::uint64_t capacity) noexcept {
  errno = error;
  if (error != ENOSPC) return io_failure("posix_fallocate", path);
  return fail(Status::kOutOfPoolMemory, "posix_fallocate(%s, %" PRIu64 "): disk full", path, capacity);
}

// One shared mapping of the file's first @p size bytes, or MAP_FAILED.
// MAP_SYNC is accepted only where the mapping is the media (DAX): then cache
// flushes make stores durable and no page cache needs writing back.
inline void* map_as(int fd, std::uint64_t size, Durability durability) noexcept {
  const int flags = durability == Durability::kCacheFlush ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED;
  return ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, flags, fd, 0);
}

inline Status map_failure(std::uint64_t size) noexcept {
  return fail(errno == ENOMEM ? Status::kOutOfPoolMemory : Status::kIoError, "mmap of %" PRIu64 " bytes: %s", size,
              std::strerror(errno));
}

}  // namespace nativepool::persistent_file
