// SPDX-License-Identifier: Apache-2.0
/// @file canaries.hpp
/// @brief WithCanaries: guard margins around every block and poisoned freed
/// memory, so that overflows, underflows and writes after free are caught.
///
/// The layout of a block follows Vulkan Memory Allocator's corruption
/// detection: the inner pool hands out [front margin | user bytes | back
/// margin]; both margins hold kGuardByte and are checked when the block is
/// freed and on every check_blocks(). Every byte outside a live block holds
/// kPoisonByte (GuardedBackend fills new regions, frees refill blocks), so
/// a block whose poison is damaged when it is handed out again was written
/// after it was freed.
///
/// Unlike the algorithms, this layer reads and writes the managed memory:
/// directly when the CPU can address it, else through the backend's
/// MemoryAccess (BlockAccess), with a synchronous device copy per fill or
/// check. Its side table (never the margins) says which addresses are live,
/// so a bad pointer is never dereferenced and never reaches the inner pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nativepool/safety/block_access.hpp"
#include "nativepool/safety/corruption.hpp"
#include "nativepool/safety/guarded_backend.hpp"
#include "nativepool/adaptor.hpp"
#include "nativepool/math.hpp"
#include "nativepool/pool.hpp"
#include "nativepool/snapshot.hpp"
#include "nativepool/thread_safety.hpp"

namespace nativepool {

/// The byte in the margins around blocks (the MSVC debug heap's "no man's
/// land").
inline constexpr unsigned char kGuardByte = 0xFD;

/// Minimum width of each margin, as VMA_DEBUG_MARGIN.
inline constexpr std::size_t kCanaryMinMargin = 16;

/// Width of each margin for an inner pool whose sizes are multiples of
/// @p unit (a power of two: the granularity or the fixed alignment). A
/// multiple of the unit keeps user pointers aligned and counted sizes equal
/// to those of the unguarded pool.
[[nodiscard]] constexpr std::size_t canary_margin(std::size_t unit) noexcept {
  return std::max(kCanaryMinMargin, unit);
}

/// Wraps a PoolAlgorithm with guard margins and poisoned freed memory.
/// Thread-safe when the inner pool is.
template <PoolAlgorithm Inner>
class WithCanaries : public AdaptorBase<Inner> {
  using Base = AdaptorBase<Inner>;
  using Base::inner_;

 public:
  using Base::kConcurrent;
  /// @p unit as for canary_margin(). The inner pool's backend must be a
  /// GuardedBackend that poisons new regions, and a fixed pool's blocks
  /// must be 2 * canary_margin(unit) larger than the blocks handed out.
  /// @p access reaches the backend's memory (host memory by default).
  WithCanaries(std::unique_ptr<Inner> inner, std::size_t unit, BlockAccess access = {}) noexcept
      : Base(std::move(inner)), unit_(unit), margin_(canary_margin(unit)), access_(std::move(access)) {}

  Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
    // Zero and absurd sizes are the inner pool's to refuse, with its message;
    // the bound keeps the margin arithmetic below from overflowing.
    if (size == 0 || size > kMaxRequest || alignment > kMaxRequest) [[unlikely]] {
      return inner_->allocate(size, alignment, out);
    }
    const std::size_t front = std::max(margin_, alignment);
    const std::size_t request = size + front + margin_;
    void* raw = nullptr;
    const Status status = inner_->allocate(request, alignment, &raw);
    if (status != Status::kOk) [[unlikely]] return refused(status, size, request);
    auto* bytes = static_cast<unsigned char*>(raw);
    const std::size_t span = inner_->counted_size(request);

    std::size_t damaged = 0;
    Status touched = access_.find_mismatch(bytes, span, kPoisonByte, &damaged);
    if (touched == Status::kOk && damaged != span) [[unlikely]] return reject_reused(bytes, span, damaged);
    if (touched == Status::kOk) touched = access_.fill(bytes, kGuardByte, front);
    if (touched == Status::kOk) touched = access_.fill(bytes + front + size, kGuardByte, span - front - size);
    if (touched != Status::kOk) [[unlikely]] {  // a device copy failed: the runtime's status says why
      give_back(bytes, span);
      return touched;
    }

    const auto user = reinterpret_cast<std::uintptr_t>(bytes + front);
    if (!record(user, Entry{reinterpret_cast<std::uintptr_t>(bytes), size, true})) [[unlikely]] {
      give_back(bytes, span);
      return fail(Status::kInternal, "canaries: out of host memory for the block table");
    }
    *out = bytes + front;
    return Status::kOk;
  }

  Status deallocate(void* ptr, std::size_t* freed_size) noexcept {
    if (ptr == nullptr) [[unlikely]] return fail(Status::kInvalidFree, "cannot free a null pointer");
    const auto user = reinterpret_cast<std::uintptr_t>(ptr);
    Entry entry;
    {
      std::lock_guard guard(lock_);
      const auto it = table_.find(user);
      if (it == table_.end()) {
        return fail(Status::kInvalidFree, "free of %p: not a block of this pool (foreign or interior pointer)", ptr);
      }
      if (!it->second.live) {
        return fail(Status::kDoubleFree, "free of %p: the block of %zu bytes is already free", ptr, it->second.size);
      }
      // A damaged block stays allocated: the caller sees the corruption, and
      // the counters still match the blocks the inner pool holds.
      const Status check = check_guards(user, it->second);
      if (check != Status::kOk) return check;
      it->second.live = false;
      entry = it->second;
      remember_freed(user);
    }
    auto* bytes = reinterpret_cast<unsigned char*>(entry.raw);
    give_back(bytes, inner_->counted_size(user - entry.raw + entry.size + margin_));
    if (freed_size != nullptr) *freed_size = counted_size(entry.size);
    return Status::kOk;
  }

  /// What the unguarded pool would count for @p size: margins are overhead,
  /// visible in the reservation, not in the bytes in use. A fixed pool's
  /// stride carries the margins, so the bytes between them are what the
  /// unguarded pool counts. A variable pool counts the size rounded to its
  /// granularity: where the unguarded pool would count a larger size class
  /// (1 to 4 KiB), the block between its margins, whose front margin grows
  /// with the alignment, may not reach that far, and memcheck marks this
  /// many bytes freed from the user's address; the class's extra bytes are
  /// overhead too.
  [[nodiscard]] std::size_t counted_size(std::size_t size) const noexcept {
    if constexpr (requires(const Inner& pool) { pool.stride(); }) {
      return usable_size(size);
    } else {
      return round_up(size, unit_);
    }
  }

  /// The free space as a user can have it: each hole loses the two margins
  /// a block placed in it would need, so a 64-byte fixed pool reports 64
  /// bytes per free block, not the 96 of its guarded stride, and the largest
  /// free block is the largest request that fits.
  [[nodiscard]] Fragmentation fragmentation() const noexcept {
    Fragmentation f = inner_->fragmentation();
    const std::uint64_t overhead = 2 * static_cast<std::uint64_t>(margin_);
    f.free_bytes = f.free_bytes > overhead * f.free_blocks ? f.free_bytes - overhead * f.free_blocks : 0;
    f.largest_free_block = f.largest_free_block > overhead ? f.largest_free_block - overhead : 0;
    f.external_fragmentation =
        f.free_bytes == 0 || f.external_fragmentation == 0.0
            ? 0.0
            : 1.0 - static_cast<double>(f.largest_free_block) / static_cast<double>(f.free_bytes);
    return f;
  }

  /// Checks both margins of every live block; kMemoryCorrupted for the first
  /// damaged one.
  [[nodiscard]] Status check_blocks() const noexcept {
    std::lock_guard guard(lock_);
    for (const auto& [user, entry] : table_) {
      if (!entry.live) continue;
      const Status status = check_guards(user, entry);
      if (status != Status::kOk) return status;
    }
    return Status::kOk;
  }

  /// Splits each live block of @p out into its front margin, the user's
  /// bytes (counted size, with the requested size) and its back margin.
  void refine(MemorySnapshot* out) const {
    struct Live {
      std::uintptr_t raw;
      std::uintptr_t user;
      std::size_t size;
    };
    std::vector<Live> live;
    {
      std::lock_guard guard(lock_);
      live.reserve(table_.size());
      for (const auto& [user, entry] : table_) {
        if (entry.live) live.push_back({entry.raw, user, entry.size});
      }
    }
    std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) { return a.raw < b.raw; });
    out->refine_live([&](std::uintptr_t address, SnapshotRun block, MemorySnapshot* into) {
      const auto it = std::lower_bound(live.begin(), live.end(), address,
                                       [](const Live& l, std::uintptr_t a) { return l.raw < a; });
      const std::uint64_t front = it != live.end() && it->raw == address ? it->user - address : 0;
      const std::uint64_t user = front != 0 ? std::min<std::uint64_t>(usable_size(it->size), block.size - front) : 0;
      if (user == 0) {  // freed since the pool's walk, or not a block this layer handed out
        into->add(block);
        return;
      }
      const std::uint64_t back = block.size - front - user;
      into->add(SnapshotRun{.offset = block.offset, .size = front, .state = BlockState::kGuard});
      into->add(SnapshotRun{.offset = block.offset + front, .size = user, .requested = it->size,
                            .state = BlockState::kLive});
      if (back != 0) {
        into->add(SnapshotRun{.offset = block.offset + front + user, .size = back, .state = BlockState::kGuard});
      }
    });
  }

 private:
  // The bytes a block of @p size spans between its two margins.
  [[nodiscard]] std::size_t usable_size(std::size_t size) const noexcept {
    return inner_->counted_size(size + 2 * margin_) - 2 * margin_;
  }

  struct Entry {
    std::uintptr_t raw = 0;  // start of the inner block (front margin)
    std::size_t size = 0;    // bytes the user asked for
    bool live = false;       // false: freed, remembered to tell double frees
  };

  // Freed addresses remembered to report a second free as a double free
  // rather than as a foreign pointer. Bounded: an address freed longer ago
  // is reported as invalid, which is still detected and still harmless.
  static constexpr std::size_t kFreedHistory = 4096;
  static constexpr std::size_t kMaxRequest = SIZE_MAX / 4;

  Status check_guards(std::uintptr_t user, const Entry& entry) const noexcept {
    auto* raw = reinterpret_cast<unsigned char*>(entry.raw);
    const std::size_t front = user - entry.raw;
    const std::size_t span = inner_->counted_size(front + entry.size + margin_);
    auto* back = raw + front + entry.size;
    const std::size_t back_size = span - front - entry.size;
    std::size_t front_damage = 0;
    std::size_t back_damage = 0;
    if (const Status status = access_.find_mismatch(raw, front, kGuardByte, &front_damage); status != Status::kOk) {
      return status;
    }
    if (const Status status = access_.find_mismatch(back, back_size, kGuardByte, &back_damage);
        status != Status::kOk) {
      return status;
    }
    if (front_damage != front) {
      const auto offset = static_cast<std::ptrdiff_t>(front_damage) - static_cast<std::ptrdiff_t>(front);
      return fail_corruption({user, entry.size, Guard::kFront, offset, nullptr});
    }
    if (back_damage != back_size) {
      const auto offset = static_cast<std::ptrdiff_t>(entry.size + back_damage);
      return fail_corruption({user, entry.size, Guard::kBack, offset, nullptr});
    }
    return Status::kOk;
  }

  // The inner pool's message quotes the request with its margins; the
  // caller asked for @p size, so that is the figure it must read first.
  [[gnu::noinline]] static Status refused(Status status, std::size_t size, std::size_t request) noexcept {
    char quoted[64];
    std::snprintf(quoted, sizeof quoted, "cannot allocate %zu bytes", request);
    const char* detail = error_detail();
    const std::size_t length = std::strlen(quoted);
    if (std::strncmp(detail, quoted, length) != 0) return status;
    char inner[512];
    std::snprintf(inner, sizeof inner, "%s", detail + length);
    return fail(status, "cannot allocate %zu bytes (%zu with the guard margins)%s", size, request, inner);
  }

  // Write after free: report the damage once, repair the poison and give the
  // block back, so the pool stays usable and the next allocation may succeed.
  // The report speaks of the region as a block the user held there: its
  // address past the front margin, its size without the margins, and the
  // offset from that address (negative inside the former front margin).
  [[gnu::noinline]] Status reject_reused(unsigned char* raw, std::size_t span, std::size_t damaged) noexcept {
    give_back(raw, span);
    const auto margin = static_cast<std::ptrdiff_t>(margin_);
    return fail_corruption({reinterpret_cast<std::uintptr_t>(raw) + margin_, span - 2 * margin_, Guard::kFreed,
                            static_cast<std::ptrdiff_t>(damaged) - margin, nullptr});
  }

  // A failed device fill is not reported: the block goes back all the same,
  // and the next allocation of it either finds the poison or reports it.
  void give_back(unsigned char* raw, std::size_t span) noexcept {
    (void)access_.fill(raw, kPoisonByte, span);
    (void)inner_->deallocate(raw, nullptr);
  }

  bool record(std::uintptr_t user, const Entry& entry) noexcept {
    std::lock_guard guard(lock_);
    try {
      table_.insert_or_assign(user, entry);
      return true;
    } catch (const std::bad_alloc&) {
      return false;
    }
  }

  void remember_freed(std::uintptr_t user) noexcept {
    try {
      freed_.push_back(user);
    } catch (const std::bad_alloc&) {
      table_.erase(user);  // forget at once rather than grow without bound
      return;
    }
    if (freed_.size() > kFreedHistory) {
      const auto oldest = table_.find(freed_.front());
      if (oldest != table_.end() && !oldest->second.live) table_.erase(oldest);
      freed_.pop_front();
    }
  }

  std::size_t unit_;
  std::size_t margin_;
  BlockAccess access_;
  mutable std::conditional_t<kConcurrent, std::mutex, NoLock> lock_;
  std::unordered_map<std::uintptr_t, Entry> table_;
  std::deque<std::uintptr_t> freed_;
};

}  // namespace nativepool
