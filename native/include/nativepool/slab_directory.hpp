// SPDX-License-Identifier: Apache-2.0
/// @file slab_directory.hpp
/// @brief SlabDirectory: from a 64 KiB-aligned address to the record of the
/// slab there, readable without a lock.
///
/// The slabs of a VariablePool (slab_classes.hpp) are found by masking a
/// block's address and looking the base up here. Thread caches park blocks
/// without the pool's lock, so the lookup must stay correct while another
/// thread, under the lock, adds or removes a slab: a radix tree over the
/// slab number (address / 64 KiB) of three levels, each entry an atomic
/// pointer, whose nodes are never freed before the directory is. A reader
/// therefore only ever reads directory memory, and sees a slab, or none.
///
/// Addresses from 2^48 on have no entry (insert() refuses them and the pool
/// serves such a request from TLSF): no x86-64 or AArch64 Linux process
/// gets them without asking. Writers may run at once on different entries
/// (ShardedVariablePool's shards each publish under their own lock): a node
/// two writers need is made once, by a compare-and-swap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "nativepool/metadata_pages.hpp"

namespace nativepool::detail {

template <class T>
class SlabDirectory {
 public:
  static constexpr unsigned kSlabShift = 16;

  SlabDirectory() = default;
  ~SlabDirectory() {
    Root* root = root_.load(std::memory_order_relaxed);
    if (root == nullptr) return;
    for (Mid* mid : root->entries) {
      if (mid == nullptr) continue;
      for (Leaf* leaf : mid->entries) {
        if (leaf != nullptr) unmap_metadata(leaf, sizeof(Leaf));
      }
      unmap_metadata(mid, sizeof(Mid));
    }
    unmap_metadata(root, sizeof(Root));
  }
  SlabDirectory(const SlabDirectory&) = delete;
  SlabDirectory& operator=(const SlabDirectory&) = delete;

  /// The record of the slab at @p base, or nullptr. Any thread, no lock.
  [[nodiscard]] T* find(std::uintptr_t base) const noexcept {
    const std::uintptr_t n = base >> kSlabShift;
    if ((n >> kBits) != 0) [[unlikely]] return nullptr;
    const Root* root = root_.load(std::memory_order_acquire);
    if (root == nullptr) [[unlikely]] return nullptr;
    const Mid* mid = acquire(root->entries[n >> (2 * kLevelBits)]);
    if (mid == nullptr) return nullptr;
    const Leaf* leaf = acquire(mid->entries[(n >> kLevelBits) & kLevelMask]);
    if (leaf == nullptr) return nullptr;
    return acquire(leaf->entries[n & kLevelMask]);
  }

  /// Publishes @p record for @p base (release: a reader that finds it sees
  /// it initialised); false, changing nothing, when out of host memory for
  /// a node or for an address the directory cannot hold.
  [[nodiscard]] bool insert(std::uintptr_t base, T* record) noexcept {
    T** entry = slot(base);
    if (entry == nullptr) return false;
    std::atomic_ref<T*>(*entry).store(record, std::memory_order_release);
    size_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Unpublishes the slab at @p base, which must be listed.
  void erase(std::uintptr_t base) noexcept {
    std::atomic_ref<T*>(*slot(base)).store(nullptr, std::memory_order_release);
    size_.fetch_sub(1, std::memory_order_relaxed);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  // 32 bits of slab number: 12 for the root, 10 for each level below. A
  // leaf covers 64 MiB (8 KiB of pointers), a mid node 64 GiB. Nodes are
  // plain pointer arrays on zeroed pages of their own (metadata_pages.hpp),
  // read and written through atomic_ref, so a directory is resident only
  // in the pages its entries reach: one of the root's eight for the usual
  // address range of a process. Made by a zeroing new, each node was
  // resident whole: the two directories of a sharded pool's first shard
  // added 36 KiB to the pool's first block.
  static constexpr unsigned kBits = 48 - kSlabShift;
  static constexpr unsigned kLevelBits = 10;
  static constexpr std::uintptr_t kLevelMask = (std::uintptr_t{1} << kLevelBits) - 1;
  struct Leaf {
    T* entries[std::size_t{1} << kLevelBits];
  };
  struct Mid {
    Leaf* entries[std::size_t{1} << kLevelBits];
  };
  struct Root {
    Mid* entries[std::size_t{1} << (kBits - 2 * kLevelBits)];
  };

  // An entry as any thread may read it (atomic_ref takes no const object;
  // readers only load).
  template <class Node>
  static Node* acquire(Node* const& entry) noexcept {
    return std::atomic_ref<Node*>(const_cast<Node*&>(entry)).load(std::memory_order_acquire);
  }

  // The entry for @p base, making the nodes on the way; writers only.
  T** slot(std::uintptr_t base) noexcept {
    const std::uintptr_t n = base >> kSlabShift;
    if ((n >> kBits) != 0) return nullptr;
    Root* root = made(root_);
    if (root == nullptr) return nullptr;
    Mid* mid = made(std::atomic_ref<Mid*>(root->entries[n >> (2 * kLevelBits)]));
    if (mid == nullptr) return nullptr;
    Leaf* leaf = made(std::atomic_ref<Leaf*>(mid->entries[(n >> kLevelBits) & kLevelMask]));
    if (leaf == nullptr) return nullptr;
    return &leaf->entries[n & kLevelMask];
  }

  // The node @p link points to, made on zeroed pages first if it is null:
  // zero is every entry's null, and a trivial type's default construction
  // writes nothing, so the pages stay untouched.
  template <class Link>
  static auto made(Link&& link) noexcept {
    using Node = std::remove_pointer_t<decltype(link.load())>;
    static_assert(std::is_trivially_default_constructible_v<Node> && std::is_trivially_destructible_v<Node>);
    Node* node = link.load(std::memory_order_acquire);
    if (node != nullptr) return node;
    void* pages = map_metadata(sizeof(Node));
    if (pages == nullptr) return node;
    Node* fresh = new (pages) Node;
    if (link.compare_exchange_strong(node, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return fresh;
    }
    unmap_metadata(pages, sizeof(Node));  // another writer made it first
    return node;
  }

  std::atomic<Root*> root_{nullptr};
  std::atomic<std::size_t> size_{0};
};

}  // namespace nativepool::detail
