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

namespace nativepool::detail {

template <class T>
class SlabDirectory {
 public:
  static constexpr unsigned kSlabShift = 16;

  SlabDirectory() = default;
  ~SlabDirectory() {
    Root* root = root_.load(std::memory_order_relaxed);
    if (root == nullptr) return;
    for (auto& mid : root->entries) {
      Mid* node = mid.load(std::memory_order_relaxed);
      if (node == nullptr) continue;
      for (auto& leaf : node->entries) delete leaf.load(std::memory_order_relaxed);
      delete node;
    }
    delete root;
  }
  SlabDirectory(const SlabDirectory&) = delete;
  SlabDirectory& operator=(const SlabDirectory&) = delete;

  /// The record of the slab at @p base, or nullptr. Any thread, no lock.
  [[nodiscard]] T* find(std::uintptr_t base) const noexcept {
    const std::uintptr_t n = base >> kSlabShift;
    if ((n >> kBits) != 0) [[unlikely]] return nullptr;
    const Root* root = root_.load(std::memory_order_acquire);
    if (root == nullptr) [[unlikely]] return nullptr;
    const Mid* mid = root->entries[n >> (2 * kLevelBits)].load(std::memory_order_acquire);
    if (mid == nullptr) return nullptr;
    const Leaf* leaf = mid->entries[(n >> kLevelBits) & kLevelMask].load(std::memory_order_acquire);
    if (leaf == nullptr) return nullptr;
    return leaf->entries[n & kLevelMask].load(std::memory_order_acquire);
  }

  /// Publishes @p record for @p base (release: a reader that finds it sees
  /// it initialised); false, changing nothing, when out of host memory for
  /// a node or for an address the directory cannot hold.
  [[nodiscard]] bool insert(std::uintptr_t base, T* record) noexcept {
    std::atomic<T*>* entry = slot(base);
    if (entry == nullptr) return false;
    entry->store(record, std::memory_order_release);
    size_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  /// Unpublishes the slab at @p base, which must be listed.
  void erase(std::uintptr_t base) noexcept {
    slot(base)->store(nullptr, std::memory_order_release);
    size_.fetch_sub(1, std::memory_order_relaxed);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  // 32 bits of slab number: 12 for the root, 10 for each level below. A
  // leaf covers 64 MiB (8 KiB of pointers), a mid node 64 GiB.
  static constexpr unsigned kBits = 48 - kSlabShift;
  static constexpr unsigned kLevelBits = 10;
  static constexpr std::uintptr_t kLevelMask = (std::uintptr_t{1} << kLevelBits) - 1;
  struct Leaf {
    std::atomic<T*> entries[std::size_t{1} << kLevelBits] = {};
  };
  struct Mid {
    std::atomic<Leaf*> entries[std::size_t{1} << kLevelBits] = {};
  };
  struct Root {
    std::atomic<Mid*> entries[std::size_t{1} << (kBits - 2 * kLevelBits)] = {};
  };

  // The entry for @p base, making the nodes on the way; writers only.
  std::atomic<T*>* slot(std::uintptr_t base) noexcept {
    const std::uintptr_t n = base >> kSlabShift;
    if ((n >> kBits) != 0) return nullptr;
    Root* root = made(root_);
    if (root == nullptr) return nullptr;
    Mid* mid = made(root->entries[n >> (2 * kLevelBits)]);
    if (mid == nullptr) return nullptr;
    Leaf* leaf = made(mid->entries[(n >> kLevelBits) & kLevelMask]);
    if (leaf == nullptr) return nullptr;
    return &leaf->entries[n & kLevelMask];
  }

  template <class Node>
  static Node* made(std::atomic<Node*>& link) noexcept {
    Node* node = link.load(std::memory_order_acquire);
    if (node != nullptr) return node;
    Node* fresh = new (std::nothrow) Node;
    if (fresh == nullptr) return nullptr;
    if (link.compare_exchange_strong(node, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return fresh;
    }
    delete fresh;  // another writer made it first
    return node;
  }

  std::atomic<Root*> root_{nullptr};
  std::atomic<std::size_t> size_{0};
};

}  // namespace nativepool::detail
