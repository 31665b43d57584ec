// SPDX-License-Identifier: Apache-2.0
/// @file region_listener.hpp
/// @brief Region events: a listener told when a pool maps or unmaps a region.
///
/// Registration caches (RDMA memory regions, GPU peer mappings) must learn
/// when the memory they registered goes away; UCX had to patch mmap for it.
/// A pool's regions all pass through its backend, so a decorator over any
/// backend sees every one: the pool needs no hook of its own.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "nativepool/backend.hpp"

namespace nativepool {

/// Told of every region a pool takes from, or gives back to, its backend.
/// Called on the thread that grows or trims the pool, with the pool's growth
/// lock held: a listener must be quick and must not call back into the pool.
class RegionListener {
 public:
  virtual ~RegionListener() = default;
  /// [@p region, @p region + @p size) now belongs to a pool.
  virtual void mapped(void* region, std::size_t size) noexcept = 0;
  /// [@p region, @p region + @p size) is about to go back to the backend.
  virtual void unmapped(void* region, std::size_t size) noexcept = 0;
  /// True for a listener that only watches (events, logs), over whose
  /// backend a pool's trim() may give free pages back to the system. False,
  /// the default, for one that may register the memory with a device: an
  /// RDMA memory region pins the pages it registered, and pages released
  /// under it would leave the device and the CPU on different pages.
  [[nodiscard]] virtual bool only_observes() const noexcept { return false; }
};

/// Wraps a backend and reports each region it hands out or takes back.
class ListenedBackend final : public BackendAdaptor {
 public:
  ListenedBackend(std::shared_ptr<Backend> inner, std::shared_ptr<RegionListener> listener) noexcept
      : BackendAdaptor(std::move(inner)), listener_(std::move(listener)) {}

  [[nodiscard]] Status allocate(std::size_t size, std::size_t alignment, void** out) noexcept override {
    const Status status = inner().allocate(size, alignment, out);
    if (status == Status::kOk) listener_->mapped(*out, size);
    return status;
  }

  void deallocate(void* region, std::size_t size, std::size_t alignment) noexcept override {
    listener_->unmapped(region, size);
    inner().deallocate(region, size, alignment);
  }

  /// Only under a listener that only observes (RegionListener::only_observes).
  std::size_t release_pages(void* start, std::size_t size) noexcept override {
    return listener_->only_observes() ? inner().release_pages(start, size) : 0;
  }

 private:
  std::shared_ptr<RegionListener> listener_;
};

}  // namespace nativepool
