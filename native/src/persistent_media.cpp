// SPDX-License-Identifier: Apache-2.0
#include "nativepool/persistent_media.hpp"

#include <sys/mman.h>

#include <cerrno>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace nativepool {
namespace {

constexpr std::uint64_t kLine = 64;
constexpr std::uint64_t kPage = 4096;

#if defined(__x86_64__)
// Each instruction in a function of its own, compiled for it alone, so the
// library runs on CPUs that lack the newer ones (chosen once by CPUID).
[[gnu::target("clwb")]] void flush_clwb(const void* line) noexcept { _mm_clwb(const_cast<void*>(line)); }
[[gnu::target("clflushopt")]] void flush_clflushopt(const void* line) noexcept { _mm_clflushopt(const_cast<void*>(line)); }
void flush_clflush(const void* line) noexcept { _mm_clflush(line); }

struct FlushChoice {
  const char* name;
  void (*flush)(const void*) noexcept;
};

FlushChoice choose_flush() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0) {
    if ((ebx & (1U << 24)) != 0) return {"clwb", flush_clwb};
    if ((ebx & (1U << 23)) != 0) return {"clflushopt", flush_clflushopt};
  }
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (edx & (1U << 19)) != 0) return {"clflush", flush_clflush};
  return {"", nullptr};
}
#else
struct FlushChoice {
  const char* name;
  void (*flush)(const void*) noexcept;
};
FlushChoice choose_flush() noexcept { return {"", nullptr}; }
#endif

const FlushChoice& flush_choice() noexcept {
  static const FlushChoice choice = choose_flush();
  return choice;
}

}  // namespace

const char* durability_name(Durability durability) noexcept {
  return durability == Durability::kCacheFlush ? "cache-flush" : "msync";
}

const char* cache_flush_instruction() noexcept { return flush_choice().name; }

namespace detail {

PersistentMedia::PersistentMedia(unsigned char* base, std::size_t size, Durability durability,
                                 PersistObserver* observer) noexcept
    : base_(base), size_(size), durability_(durability), observer_(observer), flush_line_(flush_choice().flush) {}

void PersistentMedia::flush(std::uint64_t offset, std::uint64_t length) noexcept {
  if (length == 0) return;
  flushed_bytes_ += length;
  if (durability_ == Durability::kCacheFlush) {
    for (std::uint64_t line = offset & ~(kLine - 1); line < offset + length; line += kLine) flush_line_(base_ + line);
  } else {
    const std::uint64_t first = offset & ~(kPage - 1);
    std::uint64_t end = (offset + length + kPage - 1) & ~(kPage - 1);
    if (end > size_) end = size_;
    if (msync(base_ + first, end - first, MS_SYNC) != 0 && error_ == 0) error_ = errno;
  }
  if (observer_ != nullptr) observer_->flushed(offset, length);
}

void PersistentMedia::drain() noexcept {
#if defined(__x86_64__)
  if (durability_ == Durability::kCacheFlush) _mm_sfence();
#endif
  ++drains_;
  if (observer_ != nullptr) observer_->drained();
}

}  // namespace detail
}  // namespace nativepool
