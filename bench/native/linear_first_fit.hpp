// SPDX-License-Identifier: Apache-2.0
/// @file linear_first_fit.hpp
/// @brief The textbook allocator TLSF replaces: one address-ordered free
/// list, first fit, coalescing on free (K&R malloc). Both operations walk the
/// list, so they slow down as holes accumulate. Benchmark reference only.
#pragma once

#include <cstddef>
#include <iterator>
#include <list>

namespace bench {

class LinearFirstFit {
 public:
  explicit LinearFirstFit(std::size_t capacity) { holes_.push_back({0, capacity}); }

  /// Offset of a block of @p size bytes, or npos.
  std::size_t allocate(std::size_t size) {
    for (auto it = holes_.begin(); it != holes_.end(); ++it) {
      if (it->size < size) continue;
      const std::size_t offset = it->offset;
      it->offset += size;
      it->size -= size;
      if (it->size == 0) holes_.erase(it);
      return offset;
    }
    return npos;
  }

  void deallocate(std::size_t offset, std::size_t size) {
    auto next = holes_.begin();
    while (next != holes_.end() && next->offset < offset) ++next;
    auto hole = holes_.insert(next, {offset, size});
    if (next != holes_.end() && offset + size == next->offset) {
      hole->size += next->size;
      holes_.erase(next);
    }
    if (hole != holes_.begin()) {
      auto prev = std::prev(hole);
      if (prev->offset + prev->size == offset) {
        prev->size += hole->size;
        holes_.erase(hole);
      }
    }
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  struct Hole {
    std::size_t offset;
    std::size_t size;
  };
  std::list<Hole> holes_;
};

}  // namespace bench
