// SPDX-License-Identifier: Apache-2.0
/// @file stream_ordered_pool.hpp
/// @brief Stream-ordered allocation over any pool, after RMM's
/// stream_ordered_memory_resource.
///
/// A block freed on stream S may still be read or written by work enqueued on
/// S before the free. So the block is cached per stream instead of going back
/// to the pool:
///  - an allocation on S reuses it at once: S runs in order, so the new
///    owner's work comes after the old owner's;
///  - an allocation on another stream T reuses it only after the event
///    recorded on S at free time has completed (checked with a query, no
///    waiting), or else after making T wait on that event on the device
///    (stream_wait_event): the host never blocks, and unrelated streams
///    never synchronise with each other.
/// The host synchronises with a stream only when blocks must really go back
/// to the pool: when the pool is out of memory, on trim(), and when a stream
/// is released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "nativepool/gpu/device_runtime.hpp"
#include "nativepool/pool.hpp"

namespace nativepool::gpu {

/// Counters of a StreamOrderedPool. Live figures are the caller's view;
/// `upstream` counts cached blocks as still in use.
struct StreamOrderedStats {
  std::uint64_t live_blocks = 0;
  std::uint64_t bytes_in_use = 0;   ///< rounded sizes of the live blocks
  std::uint64_t cached_blocks = 0;  ///< freed on a stream, not yet reused
  std::uint64_t cached_bytes = 0;
  std::uint64_t reused_same_stream = 0;    ///< served at once from the stream's own cache
  std::uint64_t reused_after_event = 0;    ///< from another stream whose free event had completed
  std::uint64_t reused_after_wait = 0;     ///< from another stream, after stream_wait_event
  std::uint64_t upstream_allocations = 0;  ///< served by the pool beneath
  PoolStats upstream;
};

/// Adds stream-ordered free to a pool of device (or pinned) memory.
/// Thread-safe; the upstream pool is only called under this adaptor's lock,
/// so it can be built with ThreadSafety::kNone.
class StreamOrderedPool {
 public:
  /// @p device: streams used with this pool must belong to it; -1 accepts
  /// streams of any device (pinned host memory). @p granularity: every size
  /// is rounded up to it, and it is the alignment of every block.
  StreamOrderedPool(std::shared_ptr<DeviceRuntime> runtime, int device, std::unique_ptr<Pool> upstream,
                    std::size_t granularity) noexcept;
  ~StreamOrderedPool();
  StreamOrderedPool(const StreamOrderedPool&) = delete;
  StreamOrderedPool& operator=(const StreamOrderedPool&) = delete;

  /// "No stream": allocations reuse only blocks whose free has completed,
  /// frees are immediate.
  static constexpr Stream kNoStream{};

  /// A block of at least @p size bytes, safe to use on @p stream (or, with
  /// kNoStream, safe to use at once).
  [[nodiscard]] Status allocate(std::size_t size, Stream stream, void** out) noexcept;
  /// Stream-ordered free: @p ptr may still be in use by work already
  /// enqueued on @p stream; the block is reused only when that is safe.
  /// With kNoStream, the same as deallocate(ptr). Over a pool with guard
  /// margins (safety level above OFF) it waits for @p stream and frees at
  /// once instead, so damage to the guards is reported by this call.
  [[nodiscard]] Status deallocate(void* ptr, Stream stream) noexcept;
  /// Immediate free: the caller guarantees no enqueued work uses @p ptr.
  [[nodiscard]] Status deallocate(void* ptr) noexcept;

  /// Must be called before @p stream is destroyed: waits for the stream's
  /// free event and returns its cached blocks to the pool, so a later stream
  /// that reuses the handle value inherits nothing.
  void release_stream(Stream stream) noexcept;

  /// Waits for every cached block's free event, returns the blocks to the
  /// pool, and trims the pool; returns the bytes released to the backend.
  std::size_t trim() noexcept;

  /// Pool::verify() of the pool beneath: with canaries, checks the guards
  /// of every block it holds, cached ones included (which are checked
  /// otherwise only when they go back to it, with no caller to tell).
  [[nodiscard]] Status verify() const noexcept;

  [[nodiscard]] StreamOrderedStats stats() const noexcept;
  /// True when @p ptr is a block handed out and not yet freed, of at least
  /// @p size bytes: what the JNI glue checks before it views or copies one.
  [[nodiscard]] bool holds(const void* ptr, std::size_t size) const noexcept;

  /// The pool beneath's snapshot, with the blocks freed on a stream and not
  /// yet reused as cached.
  [[nodiscard]] Status snapshot(MemorySnapshot* out) const noexcept;
  [[nodiscard]] const PoolInfo& info() const noexcept { return upstream_->info(); }
  [[nodiscard]] int device() const noexcept { return device_; }
  [[nodiscard]] std::size_t granularity() const noexcept { return granularity_; }

 private:
  /// Blocks freed on one stream, by size, and the event recorded at the
  /// latest free: once it completes, every block in the list is idle.
  struct FreeList {
    Event event{};
    std::multimap<std::size_t, void*> blocks;
  };

  Status check_stream(Stream stream) const noexcept;
  Status deallocate_checked(void* ptr, Stream stream) noexcept;
  bool take(FreeList& list, std::size_t size, void** out) noexcept;
  Status take_from_other_streams(std::size_t size, Stream stream, void** out) noexcept;
  void flush(FreeList& list) noexcept;
  void flush_all() noexcept;

  std::shared_ptr<DeviceRuntime> runtime_;
  const int device_;
  std::unique_ptr<Pool> upstream_;
  const std::size_t granularity_;
  // The upstream checks guard margins when a block comes back to it.
  const bool checks_guards_;

  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;  // block -> rounded size
  std::unordered_map<Stream, FreeList> lists_;
  std::uint64_t bytes_in_use_ = 0;
  std::uint64_t cached_blocks_ = 0;
  std::uint64_t cached_bytes_ = 0;
  std::uint64_t reused_same_stream_ = 0;
  std::uint64_t reused_after_event_ = 0;
  std::uint64_t reused_after_wait_ = 0;
  std::uint64_t upstream_allocations_ = 0;
};

}  // namespace nativepool::gpu
