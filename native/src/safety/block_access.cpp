// SPDX-License-Identifier: Apache-2.0
#include "nativepool/safety/block_access.hpp"

#include <algorithm>
#include <cstdint>
#include <new>

namespace nativepool {
namespace detail {

std::size_t first_mismatch(const unsigned char* p, std::size_t n, unsigned char byte) noexcept {
  // Whole words first: freed blocks can be large, and this runs on every
  // allocation of a canary pool.
  const std::uint64_t pattern = 0x0101010101010101ULL * byte;
  std::size_t i = 0;
  for (; i + sizeof pattern <= n; i += sizeof pattern) {
    std::uint64_t word;
    std::memcpy(&word, p + i, sizeof word);
    if (word != pattern) break;
  }
  for (; i < n; ++i) {
    if (p[i] != byte) return i;
  }
  return n;
}

}  // namespace detail

Status BlockAccess::device_mismatch(const unsigned char* p, std::size_t n, unsigned char byte,
                                    std::size_t* offset) const noexcept {
  // Margins fit one copy; a freed block checked for poison may be far larger
  // than the host buffer a debug check should take, so it comes in pieces.
  constexpr std::size_t kPiece = std::size_t{1} << 20;
  const std::size_t capacity = std::min(n, kPiece);
  const std::unique_ptr<unsigned char[]> buffer(new (std::nothrow) unsigned char[capacity]);
  if (buffer == nullptr && capacity != 0) {
    return fail(Status::kInternal, "canaries: out of host memory to check %zu bytes of device memory", n);
  }
  for (std::size_t done = 0; done < n; done += capacity) {
    const std::size_t piece = std::min(capacity, n - done);
    if (const Status status = device_->read(buffer.get(), p + done, piece); status != Status::kOk) return status;
    const std::size_t found = detail::first_mismatch(buffer.get(), piece, byte);
    if (found != piece) {
      *offset = done + found;
      return Status::kOk;
    }
  }
  *offset = n;
  return Status::kOk;
}

}  // namespace nativepool
