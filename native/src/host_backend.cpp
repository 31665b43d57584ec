// SPDX-License-Identifier: Apache-2.0
#include "nativepool/host_backend.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "nativepool/math.hpp"

namespace nativepool {

namespace {
std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

// Both host backends' memory is private and anonymous (the C heap's too):
// the kernel frees the pages now and maps zero pages on the next touch,
// which is all a free block may read. (A transparent huge page is split.)
std::size_t release_whole_pages(void* start, std::size_t size) noexcept {
  const std::size_t page = page_size();
  const std::uintptr_t begin = round_up(reinterpret_cast<std::uintptr_t>(start), page);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(start) + size) & ~(std::uintptr_t{page} - 1);
  if (end <= begin) return 0;
  return ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) == 0 ? end - begin : 0;
}
}  // namespace

const char* memory_kind_name(MemoryKind kind) noexcept {
  switch (kind) {
    case MemoryKind::kHost: return "HOST";
    case MemoryKind::kNumaHost: return "NUMA_HOST";
    case MemoryKind::kPinnedHost: return "PINNED_HOST";
    case MemoryKind::kDevice: return "DEVICE";
    case MemoryKind::kPersistent: return "PERSISTENT";
  }
  return "UNKNOWN";
}

Status MallocBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (size == 0 || !is_pow2(alignment)) {
    return fail(Status::kInvalidArgument, "malloc backend: bad region request (size %zu, alignment %zu)",
                size, alignment);
  }
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t align = alignment < sizeof(void*) ? sizeof(void*) : alignment;
  std::size_t rounded = 0;
  if (!round_up_checked(size, align, &rounded)) {
    return fail(Status::kOutOfPoolMemory, "malloc backend: region of %zu bytes is too large", size);
  }
  void* region = std::aligned_alloc(align, rounded);
  if (region == nullptr) {
    return fail(Status::kOutOfPoolMemory, "malloc backend: aligned_alloc(%zu, %zu) failed", align, rounded);
  }
  *out = region;
  return Status::kOk;
}

void MallocBackend::deallocate(void* region, std::size_t, std::size_t) noexcept { std::free(region); }

std::size_t MallocBackend::release_pages(void* start, std::size_t size) noexcept {
  return release_whole_pages(start, size);
}

Status MmapBackend::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (size == 0 || !is_pow2(alignment)) {
    return fail(Status::kInvalidArgument, "mmap backend: bad region request (size %zu, alignment %zu)",
                size, alignment);
  }
  const std::size_t page = page_size();
  std::size_t length = 0;
  std::size_t mapped = 0;
  const std::size_t slack = alignment > page ? alignment : 0;
  if (!round_up_checked(size, page, &length) || length + slack < length) {
    return fail(Status::kOutOfPoolMemory, "mmap backend: region of %zu bytes is too large", size);
  }
  // Over-map by the alignment and unmap the misaligned head and tail: the
  // kernel only promises page alignment.
  mapped = length + slack;
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    return fail(Status::kOutOfPoolMemory, "mmap backend: mmap of %zu bytes failed: %s", mapped,
                std::strerror(errno));
  }
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = slack ? round_up(base, alignment) : base;
  if (aligned > base) ::munmap(raw, aligned - base);
  const std::uintptr_t end = aligned + length;
  if (base + mapped > end) ::munmap(reinterpret_cast<void*>(end), base + mapped - end);
  if (huge_pages_) {
    // Advice only: without THP the mapping still works with small pages.
    ::madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
  }
  *out = reinterpret_cast<void*>(aligned);
  return Status::kOk;
}

void MmapBackend::deallocate(void* region, std::size_t size, std::size_t) noexcept {
  ::munmap(region, round_up(size, page_size()));
}

std::size_t MmapBackend::release_pages(void* start, std::size_t size) noexcept {
  return release_whole_pages(start, size);
}

bool MmapBackend::transparent_huge_pages_available() noexcept {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  std::getline(in, setting);
  // "[always] madvise never" or "always [madvise] never": anything but [never].
  return !setting.empty() && setting.find("[never]") == std::string::npos;
}

}  // namespace nativepool
