// SPDX-License-Identifier: Apache-2.0
#include "nativepool/variable_pool.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <mutex>

#include "nativepool/math.hpp"
#include "nativepool/metadata_pages.hpp"

namespace nativepool {
namespace detail {

namespace {
// Arenas are at least page aligned: backends map whole pages anyway, and it
// lets any alignment up to a page be served from a fresh arena's first byte.
constexpr std::size_t kMinArenaAlignment = 4096;
// A node keeps a block's size in 48 bits.
constexpr std::size_t kMaxArenaBytes = (std::size_t{1} << 48) - kMinArenaAlignment;
// Indices are 32 bits, and 0 is no node.
constexpr std::size_t kMaxNodes = std::size_t{1} << 32;
}  // namespace

// Sizes are in granules. Below 32 granules every size has its own class;
// above, the first level is the power of two and the second level splits it
// into 32 equal ranges. Or-ing in kSlCount sends the small sizes through the
// same formula (first level 0, shift 0), so there is no branch to mispredict
// when sizes are mixed.
unsigned Tlsf::size_class(std::size_t units) noexcept {
  const unsigned log2 = floor_log2(units | kSlCount);
  return ((log2 - kSlBits + 1) << kSlBits) + static_cast<unsigned>(units >> (log2 - kSlBits)) - kSlCount;
}

Tlsf::Tlsf(const VariablePoolConfig& config, std::shared_ptr<Backend> backend) noexcept
    : backend_(std::move(backend)),
      arena_size_(config.arena_size),
      granularity_(config.granularity),
      granularity_shift_(floor_log2(config.granularity)),
      arena_alignment_(std::max(config.granularity, kMinArenaAlignment)),
      initial_bytes_(config.initial_bytes),
      max_bytes_(config.max_bytes) {}

Tlsf::~Tlsf() {
  while (arenas_ != nullptr) {
    Arena* arena = arenas_;
    arenas_ = arena->next;
    backend_->deallocate(reinterpret_cast<void*>(arena->base), arena->size, arena_alignment_);
    delete arena;
  }
  if (nodes_ != nullptr) detail::unmap_metadata(nodes_, node_capacity_ * sizeof(Block));
}

Status Tlsf::check_config(const VariablePoolConfig& config, const Backend* backend) noexcept {
  if (backend == nullptr) return fail(Status::kInvalidArgument, "variable pool: backend is null");
  if (!is_pow2(config.granularity)) {
    return fail(Status::kInvalidArgument, "variable pool: granularity %zu is not a power of two",
                config.granularity);
  }
  if (config.arena_size == 0 || config.arena_size % config.granularity != 0) {
    return fail(Status::kInvalidArgument,
                "variable pool: arena_size %zu is not a positive multiple of the granularity %zu",
                config.arena_size, config.granularity);
  }
  if (config.arena_size > kMaxArenaBytes) {
    return fail(Status::kInvalidArgument, "variable pool: arena_size %zu exceeds the largest arena, %zu bytes",
                config.arena_size, kMaxArenaBytes);
  }
  if (config.max_bytes != 0 && config.max_bytes < config.granularity) {
    return fail(Status::kInvalidArgument,
                "variable pool: max_bytes %zu is below the granularity %zu (0 means unbounded)",
                config.max_bytes, config.granularity);
  }
  if (config.max_bytes != 0 && config.initial_bytes > config.max_bytes) {
    return fail(Status::kInvalidArgument, "variable pool: initial_bytes %zu exceeds max_bytes %zu",
                config.initial_bytes, config.max_bytes);
  }
  return Status::kOk;
}

Status Tlsf::reserve_initial() noexcept {
  while (reserved_ < initial_bytes_) {
    std::size_t size = arena_size_;
    if (max_bytes_ != 0) {
      const std::size_t room = (max_bytes_ - reserved_) & ~(granularity_ - 1);
      if (room == 0) break;
      size = std::min(size, room);
    }
    Index block = 0;
    const Status status = add_arena(size, &block);
    if (status == Status::kInternal) return status;
    if (status != Status::kOk) {
      char reason[320];
      std::snprintf(reason, sizeof reason, "%s", error_detail());
      return fail(Status::kOutOfPoolMemory,
                  "variable pool: cannot reserve initial_bytes %zu: the backend refused %zu more bytes after %zu: %s",
                  initial_bytes_, size, reserved_, reason);
    }
  }
  return Status::kOk;
}

Status Tlsf::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  if (size == 0 || (alignment & (alignment - 1)) != 0) [[unlikely]] {
    return bad_request(size, alignment);
  }
  // Every block is granularity-aligned, so smaller alignments are free.
  const std::size_t align = alignment > granularity_ ? alignment : granularity_;
  const std::size_t padding = align - granularity_;
  if (size > SIZE_MAX - (granularity_ - 1) - padding) [[unlikely]] return bad_request(size, alignment);
  const std::size_t rounded = round_up(size, granularity_);
  // All metadata the carve below may need is secured first, so a failure
  // cannot leave a block half split.
  if (!reserve_nodes(2) || !live_.reserve(live_.size() + 1)) [[unlikely]] {
    return fail(Status::kInternal, "variable pool: out of host memory for block metadata");
  }
  // Searching for size + padding guarantees that an aligned start exists.
  Index block = find_free((rounded + padding) >> granularity_shift_);
  if (block == 0) [[unlikely]] {
    const Status status = refill(size, rounded, align, &block);
    if (status != Status::kOk) return status;
  }
  // The allocation is cut from the front of the free block, which stays
  // free with the rest: sizes are multiples of the granularity, so any
  // remainder can stand as a block of its own, and the block handed out is
  // exactly `rounded` bytes.
  const std::uintptr_t address = at(block).address;
  const std::uintptr_t start = round_up(address, align);
  if (start != address) insert_free(carve_front(block, start - address));
  Index used = block;
  if (at(block).size == rounded) {
    remove_free(block);
    at(block).free = 0;
  } else {
    used = carve_front(block, rounded);
  }
  live_.insert(start, used);
  *out = reinterpret_cast<void*>(start);
  return Status::kOk;
}

Status Tlsf::deallocate(void* ptr, std::size_t* freed_size) noexcept {
  const Index block = live_.take(reinterpret_cast<std::uintptr_t>(ptr));
  if (block == 0) [[unlikely]] return bad_free(ptr);
  Block& node = at(block);
  const std::size_t size = node.size;
  if (freed_size != nullptr) *freed_size = size;
  // Merging at once keeps the invariant that no two free blocks touch, so a
  // free needs to look at its two neighbours only. A free neighbour absorbs
  // the block and keeps its node, and its place in its size-class list when
  // the merge leaves its class unchanged. The previous neighbour may be the
  // arena's head, which is never free.
  const Index prev = node.prev_phys;
  const Index next = node.next_phys;
  const bool merge_next = next != 0 && at(next).free;
  if (at(prev).free) {
    std::size_t merged = at(prev).size + size;
    unlink_phys(block);
    release_node(block);
    if (merge_next) {
      merged += at(next).size;
      remove_free(next);
      unlink_phys(next);
      release_node(next);
    }
    resize_free(prev, merged);
  } else if (merge_next) {
    at(next).address = node.address;
    unlink_phys(block);
    release_node(block);
    resize_free(next, at(next).size + size);
  } else {
    insert_free(block);
  }
  return Status::kOk;
}

// Wholly free arenas go back to the backend; then the whole pages inside
// every free block left go back to the system (Backend::release_pages),
// the arenas staying reserved, so that resident memory follows the live
// set as malloc_trim() makes glibc's do. The free lists lead to every free
// block and to no live one; a block under a page cannot hold a whole one.
std::size_t Tlsf::trim() noexcept {
  std::size_t released = 0;
  for (Arena* arena = arenas_; arena != nullptr;) {
    Arena* next = arena->next;
    const Index only = at(arena->head).next_phys;
    if (at(only).free && at(only).next_phys == 0) {
      remove_free(only);
      release_node(only);
      released += arena->size;
      release_arena(arena);
    }
    arena = next;
  }
  for (const Index head : heads_) {
    for (Index block = head; block != 0; block = at(block).next_free) {
      const Block& node = at(block);
      if (node.size >= kSmallestPage) release_pages(node.address, node.size);
    }
  }
  return released;
}

// Growth, and the exhaustive search before it, are the slow path: out of
// line, so the fast path of allocate() stays small enough to inline and to
// sit in few cache lines (the mimalloc discipline).
[[gnu::noinline]] Status Tlsf::refill(std::size_t size, std::size_t rounded, std::size_t align,
                                      Index* block) noexcept {
  const std::size_t search = rounded + (align - granularity_);
  *block = find_exact(rounded, search, align);
  if (*block != 0) return Status::kOk;
  // A fresh arena starts aligned to arena_alignment_, so only larger
  // alignments need the padding reserved.
  const std::size_t needed = align <= arena_alignment_ ? rounded : search;
  if (max_bytes_ != 0 && needed > max_bytes_ - reserved_) {
    return out_of_memory(size, align,
                         needed > max_bytes_ ? "the request exceeds max_bytes"
                                             : "a new arena would exceed max_bytes");
  }
  std::size_t arena = 0;
  if (!round_up_checked(needed, arena_alignment_, &arena) || arena > kMaxArenaBytes) {
    return out_of_memory(size, align, "no arena can be that large");
  }
  arena = std::max(arena, arena_size_);
  // Near the limit the last arena shrinks to what is left, so the whole of
  // max_bytes stays usable.
  if (max_bytes_ != 0) arena = std::min(arena, (max_bytes_ - reserved_) & ~(granularity_ - 1));
  const Status status = add_arena(arena, block);
  // A plugin that broke its contract is a fault, not a full pool.
  if (status == Status::kOk || status == Status::kInternal || status == Status::kPluginFault) return status;
  char reason[320];
  std::snprintf(reason, sizeof reason, "the backend refused %zu more bytes: %s", arena, error_detail());
  return out_of_memory(size, align, reason);
}

Status Tlsf::add_arena(std::size_t size, Index* block) noexcept {
  // Four nodes: the arena's head, its block, and the two an allocation may
  // split off.
  if (!reserve_nodes(4)) return fail(Status::kInternal, "variable pool: out of host memory for block metadata");
  Arena* arena = new (std::nothrow) Arena{};
  if (arena == nullptr) return fail(Status::kInternal, "variable pool: out of host memory for arena metadata");
  void* region = nullptr;
  const Status status = backend_->allocate(size, arena_alignment_, &region);
  if (status != Status::kOk) {
    delete arena;
    return status;
  }
  const auto base = reinterpret_cast<std::uintptr_t>(region);
  if (base % arena_alignment_ != 0) {
    backend_->deallocate(region, size, arena_alignment_);
    delete arena;
    return fail(Status::kInternal, "variable pool: backend %.*s returned 0x%" PRIxPTR ", not aligned to %zu",
                static_cast<int>(backend_->name().size()), backend_->name().data(), base, arena_alignment_);
  }
  const Index head = take_node();
  const Index node = take_node();
  at(head) = Block{.address = base, .size = 0, .size_class = 0, .free = 0, .prev_phys = 0, .next_phys = node,
                   .prev_free = 0, .next_free = 0};
  at(node) = Block{.address = base, .size = (size & kSizeMask), .size_class = 0, .free = 1, .prev_phys = head,
                   .next_phys = 0, .prev_free = 0, .next_free = 0};
  *arena = Arena{base, size, head, nullptr, arenas_};
  if (arenas_ != nullptr) arenas_->prev = arena;
  arenas_ = arena;
  reserved_ += size;
  peak_reserved_ = std::max(peak_reserved_, reserved_);
  ++regions_;
  insert_free(node);
  *block = node;
  return Status::kOk;
}

// The good-fit search skips the class the request falls in, since not every
// block there is large enough, and the class below, where a block one class
// larger may be listed (see resize_free). Before growing, look there too
// (and, for aligned requests, in the classes whose blocks fit only if their
// start happens to be aligned), so the pool grows or fails only when nothing
// fits.
Tlsf::Index Tlsf::find_exact(std::size_t rounded, std::size_t search, std::size_t align) const noexcept {
  const unsigned high = size_class(search >> granularity_shift_);
  const unsigned low = size_class(rounded >> granularity_shift_);
  for (unsigned c = low != 0 ? low - 1 : 0; c <= high; ++c) {
    for (Index block = heads_[c]; block != 0; block = at(block).next_free) {
      const Block& node = at(block);
      const std::uintptr_t start = round_up(node.address, align);
      if (start - node.address + rounded <= node.size) return block;
    }
  }
  return 0;
}

Tlsf::Index Tlsf::find_free(std::size_t units) const noexcept {
  if (units >= kSlCount) {
    // No block is that large, and rounding up could overflow.
    if (units > SIZE_MAX >> 1) [[unlikely]] return 0;
    // Round up to the next class boundary: every block of that class or
    // above fits, so the first list head found will do (good fit).
    units += (std::size_t{1} << (floor_log2(units) - kSlBits)) - 1;
  }
  const unsigned c = size_class(units);
  unsigned fl = c >> kSlBits;
  std::uint32_t sl_map = sl_bitmap_[fl] & (~0U << (c & (kSlCount - 1)));
  if (sl_map == 0) {
    const std::uint64_t fl_map = fl_bitmap_ & (~0ULL << (fl + 1));
    if (fl_map == 0) return 0;
    fl = static_cast<unsigned>(std::countr_zero(fl_map));
    sl_map = sl_bitmap_[fl];
  }
  return heads_[(fl << kSlBits) | static_cast<unsigned>(std::countr_zero(sl_map))];
}

void Tlsf::insert_free(Index block) noexcept {
  Block& node = at(block);
  const unsigned c = size_class(node.size >> granularity_shift_);
  node.size_class = c & 0x7FFFU;
  node.free = 1;
  node.prev_free = 0;
  node.next_free = heads_[c];
  if (node.next_free != 0) at(node.next_free).prev_free = block;
  heads_[c] = block;
  sl_bitmap_[c >> kSlBits] |= 1U << (c & (kSlCount - 1));
  fl_bitmap_ |= 1ULL << (c >> kSlBits);
  free_bytes_ += node.size;
  ++free_blocks_;
}

void Tlsf::remove_free(Index block) noexcept {
  const Block& node = at(block);
  const auto c = static_cast<unsigned>(node.size_class);
  if (node.prev_free != 0) {
    at(node.prev_free).next_free = node.next_free;
  } else {
    heads_[c] = node.next_free;
  }
  if (node.next_free != 0) at(node.next_free).prev_free = node.prev_free;
  if (heads_[c] == 0) {
    const unsigned fl = c >> kSlBits;
    sl_bitmap_[fl] &= ~(1U << (c & (kSlCount - 1)));
    if (sl_bitmap_[fl] == 0) fl_bitmap_ &= ~(1ULL << fl);
  }
  free_bytes_ -= node.size;
  --free_blocks_;
}

// A free block that grows or shrinks moves to another list only if it leaves
// the classes it may be listed in: its own, or the one just below. The slack
// matters at class boundaries: with a power-of-two arena, the arena's large
// block sits exactly on one, and without it every carve moved it down a
// class and every merge back up. A block listed one class low is still at
// least that class's lower bound, so the good-fit search stays correct.
void Tlsf::resize_free(Index block, std::size_t size) noexcept {
  Block& node = at(block);
  // Unsigned: a class below the listed one wraps and fails the test too.
  if (size_class(size >> granularity_shift_) - static_cast<unsigned>(node.size_class) <= 1) {
    free_bytes_ = free_bytes_ - node.size + size;
    node.size = (size & kSizeMask);
    return;
  }
  remove_free(block);
  node.size = (size & kSizeMask);
  insert_free(block);
}

// Gives the first @p size bytes of the free block @p block a node of their
// own, placed before it; @p block keeps the rest (and stays free). The new
// node is returned allocated and unlisted.
Tlsf::Index Tlsf::carve_front(Index block, std::size_t size) noexcept {
  const Index front = take_node();
  Block& node = at(block);
  at(front) = Block{.address = node.address, .size = (size & kSizeMask), .size_class = 0, .free = 0,
                    .prev_phys = node.prev_phys, .next_phys = block, .prev_free = 0, .next_free = 0};
  at(node.prev_phys).next_phys = front;
  node.prev_phys = front;
  node.address += size;
  resize_free(block, node.size - size);
  return front;
}

void Tlsf::unlink_phys(Index block) noexcept {
  const Block& node = at(block);
  at(node.prev_phys).next_phys = node.next_phys;
  if (node.next_phys != 0) at(node.next_phys).prev_phys = node.prev_phys;
}

bool Tlsf::reserve_nodes(std::size_t count) noexcept {
  return node_capacity_ + spare_count_ >= nodes_used_ + count || grow_nodes();
}

// Nodes live in one anonymous mapping, doubled by mremap: the kernel moves
// page tables rather than bytes, the untouched tail takes no memory, and the
// nodes stay page aligned, two to a cache line. (realloc would keep 16-byte
// alignment only, which splits every other node across two lines.)
[[gnu::noinline]] bool Tlsf::grow_nodes() noexcept {
  if (node_capacity_ == kMaxNodes) return false;
  // The first mapping is one page.
  const std::size_t capacity = node_capacity_ == 0 ? 4096 / sizeof(Block) : node_capacity_ * 2;
  const std::size_t bytes = capacity * sizeof(Block);
  void* nodes = node_capacity_ == 0 ? detail::map_metadata(bytes)
                                     : mremap(nodes_, node_capacity_ * sizeof(Block), bytes, MREMAP_MAYMOVE);
  if (nodes == nullptr || nodes == MAP_FAILED) return false;
  nodes_ = static_cast<Block*>(nodes);
  node_capacity_ = capacity;
  return true;
}

// Released nodes first; then the next never-used one, so that nodes are
// touched only when the pool first needs that many.
Tlsf::Index Tlsf::take_node() noexcept {
  if (spare_nodes_ != 0) {
    const Index node = spare_nodes_;
    spare_nodes_ = at(node).next_free;
    --spare_count_;
    return node;
  }
  return static_cast<Index>(nodes_used_++);
}

void Tlsf::release_node(Index node) noexcept {
  at(node).next_free = spare_nodes_;
  spare_nodes_ = node;
  ++spare_count_;
}

void Tlsf::release_arena(Arena* arena) noexcept {
  if (arena->prev != nullptr) {
    arena->prev->next = arena->next;
  } else {
    arenas_ = arena->next;
  }
  if (arena->next != nullptr) arena->next->prev = arena->prev;
  release_node(arena->head);
  backend_->deallocate(reinterpret_cast<void*>(arena->base), arena->size, arena_alignment_);
  reserved_ -= arena->size;
  --regions_;
  delete arena;
}

[[gnu::noinline]] Status Tlsf::bad_request(std::size_t size, std::size_t alignment) const noexcept {
  if (size == 0) return fail(Status::kInvalidArgument, "allocation size must be at least 1 byte");
  if ((alignment & (alignment - 1)) != 0) {
    return fail(Status::kInvalidArgument, "alignment %zu is not a power of two", alignment);
  }
  return fail(Status::kInvalidArgument, "size %zu aligned to %zu overflows when rounded up to the granularity %zu",
              size, alignment, granularity_);
}

// Only a failed free gets here, so a walk over the arena costs nothing on
// the normal path and buys a precise diagnosis.
const Tlsf::Block* Tlsf::block_containing(std::uintptr_t address) const noexcept {
  for (const Arena* arena = arenas_; arena != nullptr; arena = arena->next) {
    if (address - arena->base >= arena->size) continue;
    for (Index block = at(arena->head).next_phys; block != 0; block = at(block).next_phys) {
      if (address - at(block).address < at(block).size) return &at(block);
    }
  }
  return nullptr;
}

bool Tlsf::in_free_space(const void* ptr) const noexcept {
  const Block* block = block_containing(reinterpret_cast<std::uintptr_t>(ptr));
  return block != nullptr && block->free != 0;
}

[[gnu::noinline]] Status Tlsf::bad_free(const void* ptr) const noexcept {
  if (ptr == nullptr) return fail(Status::kInvalidFree, "cannot free a null pointer");
  const auto address = reinterpret_cast<std::uintptr_t>(ptr);
  const Block* block = block_containing(address);
  if (block == nullptr) return fail(Status::kInvalidFree, "0x%" PRIxPTR " is not a block of this pool", address);
  const std::uintptr_t offset = address - block->address;
  const auto size = static_cast<std::size_t>(block->size);
  if (block->free == 0) {
    return fail(Status::kInvalidFree, "0x%" PRIxPTR " points %zu bytes into the block at 0x%" PRIxPTR " (size %zu)",
                address, offset, block->address, size);
  }
  // The start of a free block: a block freed before (allocations hand
  // out block starts), so a double free.
  if (offset == 0) return fail(Status::kDoubleFree, "0x%" PRIxPTR " is already free", address);
  // Inside free space: a block freed before and since merged with a
  // neighbour, or an address this pool never handed out; the pool keeps
  // no history to tell, so it claims neither.
  return fail(Status::kInvalidFree,
              "0x%" PRIxPTR " is not a block in use: it lies %zu bytes into the free block at 0x%" PRIxPTR
              " of size %zu (freed already, or never handed out)",
              address, offset, block->address, size);
}

[[gnu::noinline]] Status Tlsf::out_of_memory(std::size_t size, std::size_t align,
                                             const char* reason) const noexcept {
  const Fragmentation f = fragmentation();
  char held[96];
  if (max_bytes_ != 0) {
    std::snprintf(held, sizeof held, "reserved %zu of max %zu bytes", reserved_, max_bytes_);
  } else {
    std::snprintf(held, sizeof held, "reserved %zu bytes (no max)", reserved_);
  }
  return fail(Status::kOutOfPoolMemory,
              "cannot allocate %zu bytes aligned to %zu: %s; free %" PRIu64 " bytes in %" PRIu64
              " blocks, largest %" PRIu64 " (external fragmentation %.2f); %s",
              size, align, held, f.free_bytes, f.free_blocks, f.largest_free_block, f.external_fragmentation,
              reason);
}

std::size_t Tlsf::largest_free() const noexcept {
  if (fl_bitmap_ == 0) return 0;
  // The highest non-empty class holds the largest block, or the class just
  // below does, where a block of the highest class may be listed (see
  // resize_free). Sizes within a class differ, so both lists are scanned.
  const auto fl = static_cast<unsigned>(std::bit_width(fl_bitmap_) - 1);
  const auto sl = static_cast<unsigned>(std::bit_width(sl_bitmap_[fl]) - 1);
  const unsigned top = (fl << kSlBits) | sl;
  std::size_t largest = 0;
  for (unsigned c = top != 0 ? top - 1 : 0; c <= top; ++c) {
    for (Index block = heads_[c]; block != 0; block = at(block).next_free) {
      largest = std::max(largest, static_cast<std::size_t>(at(block).size));
    }
  }
  return largest;
}

Fragmentation Tlsf::fragmentation() const noexcept {
  Fragmentation f;
  f.free_bytes = free_bytes_;
  f.free_blocks = free_blocks_;
  f.largest_free_block = largest_free();
  if (free_bytes_ != 0) {
    f.external_fragmentation =
        1.0 - static_cast<double>(f.largest_free_block) / static_cast<double>(f.free_bytes);
  }
  return f;
}

Reservation Tlsf::reservation() const noexcept {
  return Reservation{reserved_, peak_reserved_, regions_};
}

std::size_t Tlsf::snapshot_runs() const noexcept { return live_.size() + free_blocks_; }

void Tlsf::snapshot(const SlabClasses& slabs, MemorySnapshot* out) const noexcept {
  for (const Arena* arena = arenas_; arena != nullptr; arena = arena->next) {
    out->begin_region(arena->base, arena->size);
    for (Index i = at(arena->head).next_phys; i != 0; i = at(i).next_phys) {
      const Block& block = at(i);
      if (block.free == 0 && block.size == SlabClasses::kSlabBytes && slabs.snapshot(block.address, arena->base, out)) {
        continue;
      }
      out->add(SnapshotRun{.offset = block.address - arena->base,
                           .size = block.size,
                           .state = block.free != 0 ? BlockState::kFree : BlockState::kLive});
    }
  }
}


std::size_t Tlsf::block_size(const void* ptr) const noexcept {
  const Index block = live_.find(reinterpret_cast<std::uintptr_t>(ptr));
  return block != 0 ? static_cast<std::size_t>(at(block).size) : 0;
}

// Walks every size-class list, marking each node it passes in @p listed (a
// bit per node); the arena walk then proves every free block was listed.
// Each back link is checked before the next step, so a node listed twice,
// or a list that loops, is caught at its second visit.
Status Tlsf::validate_lists(std::uint64_t* listed, std::size_t* listed_blocks,
                            std::size_t* listed_bytes) const noexcept {
  if ((fl_bitmap_ >> kFlCount) != 0) {
    return fail(Status::kCorrupted, "first-level bitmap 0x%" PRIx64 " has bits beyond level %u", fl_bitmap_,
                kFlCount - 1);
  }
  for (unsigned fl = 0; fl < kFlCount; ++fl) {
    if (((fl_bitmap_ >> fl & 1U) != 0) != (sl_bitmap_[fl] != 0)) {
      return fail(Status::kCorrupted, "first-level bit %u disagrees with its second-level bitmap 0x%" PRIx32,
                  fl, sl_bitmap_[fl]);
    }
    for (unsigned sl = 0; sl < kSlCount; ++sl) {
      const unsigned c = (fl << kSlBits) | sl;
      if (((sl_bitmap_[fl] >> sl & 1U) != 0) != (heads_[c] != 0)) {
        return fail(Status::kCorrupted, "bitmap bit of size class (%u, %u) disagrees with its list", fl, sl);
      }
      Index prev = 0;
      for (Index i = heads_[c]; i != 0; prev = i, i = at(i).next_free) {
        if (i >= nodes_used_) {
          return fail(Status::kCorrupted, "size class (%u, %u) links node %" PRIu32 " of %zu in use", fl, sl, i,
                      nodes_used_);
        }
        const Block& block = at(i);
        if ((listed[i / 64] >> (i % 64) & 1U) != 0) {
          return fail(Status::kCorrupted, "free block at 0x%" PRIxPTR " is listed twice (or its list loops)",
                      block.address);
        }
        listed[i / 64] |= std::uint64_t{1} << (i % 64);
        if (block.free == 0) {
          return fail(Status::kCorrupted, "allocated block at 0x%" PRIxPTR " is in free list (%u, %u)",
                      block.address, fl, sl);
        }
        if (block.prev_free != prev) {
          return fail(Status::kCorrupted, "free block at 0x%" PRIxPTR " has a broken back link in list (%u, %u)",
                      block.address, fl, sl);
        }
        // Its own class, or the one below (see resize_free).
        const unsigned own = size_class(block.size >> granularity_shift_);
        if (own - c > 1 || block.size_class != c) {
          return fail(Status::kCorrupted,
                      "free block at 0x%" PRIxPTR " (size %zu) is in size class (%u, %u) and records class %u,"
                      " expected (%u, %u) or the class below",
                      block.address, static_cast<std::size_t>(block.size), fl, sl,
                      static_cast<unsigned>(block.size_class), own >> kSlBits, own & (kSlCount - 1));
        }
        ++*listed_blocks;
        *listed_bytes += block.size;
      }
    }
  }
  return Status::kOk;
}

Status Tlsf::validate() const noexcept {
  std::unique_ptr<std::uint64_t[]> listed(new (std::nothrow) std::uint64_t[(nodes_used_ + 63) / 64]());
  if (listed == nullptr) return fail(Status::kInternal, "variable pool: out of host memory to validate");
  std::size_t listed_blocks = 0;
  std::size_t listed_bytes = 0;
  if (Status status = validate_lists(listed.get(), &listed_blocks, &listed_bytes); status != Status::kOk) {
    return status;
  }

  std::size_t arenas = 0;
  std::size_t reserved = 0;
  std::size_t free_blocks = 0;
  std::size_t free_bytes = 0;
  std::size_t live = 0;
  const Arena* prev_arena = nullptr;
  for (const Arena* arena = arenas_; arena != nullptr; prev_arena = arena, arena = arena->next) {
    if (++arenas > regions_) {
      return fail(Status::kCorrupted, "more arenas are linked than the %zu counted", regions_);
    }
    if (arena->prev != prev_arena) {
      return fail(Status::kCorrupted, "arena at 0x%" PRIxPTR " has a broken back link", arena->base);
    }
    if (arena->base % arena_alignment_ != 0 || arena->size == 0 || arena->size % granularity_ != 0) {
      return fail(Status::kCorrupted, "arena at 0x%" PRIxPTR " has a bad base or size %zu", arena->base,
                  arena->size);
    }
    const Block* head = arena->head < nodes_used_ ? &at(arena->head) : nullptr;
    if (head == nullptr || arena->head == 0 || head->address != arena->base || head->size != 0 ||
        head->free != 0 || head->prev_phys != 0) {
      return fail(Status::kCorrupted, "arena at 0x%" PRIxPTR " has a broken head node %" PRIu32, arena->base,
                  arena->head);
    }
    reserved += arena->size;
    const std::uintptr_t end = arena->base + arena->size;
    std::uintptr_t expected = arena->base;
    Index prev = arena->head;
    for (Index i = head->next_phys; i != 0; prev = i, i = at(i).next_phys) {
      if (i >= nodes_used_) {
        return fail(Status::kCorrupted, "arena at 0x%" PRIxPTR " links node %" PRIu32 " of %zu in use", arena->base,
                    i, nodes_used_);
      }
      const Block& block = at(i);
      if (block.prev_phys != prev) {
        return fail(Status::kCorrupted, "block at 0x%" PRIxPTR " has a broken prev_phys link", block.address);
      }
      if (block.address != expected) {
        return fail(Status::kCorrupted,
                    "arena at 0x%" PRIxPTR " has a block at 0x%" PRIxPTR " where 0x%" PRIxPTR
                    " was expected (gap or overlap)",
                    arena->base, block.address, expected);
      }
      const auto size = static_cast<std::size_t>(block.size);
      if (size == 0 || size % granularity_ != 0 || size > end - block.address) {
        return fail(Status::kCorrupted, "block at 0x%" PRIxPTR " has a bad size %zu", block.address, size);
      }
      expected += size;
      if (block.free != 0) {
        if (at(prev).free != 0) {
          return fail(Status::kCorrupted,
                      "free blocks at 0x%" PRIxPTR " and 0x%" PRIxPTR " are adjacent (not coalesced)",
                      at(prev).address, block.address);
        }
        if ((listed[i / 64] >> (i % 64) & 1U) == 0) {
          return fail(Status::kCorrupted, "free block at 0x%" PRIxPTR " (size %zu) is in no size-class list",
                      block.address, size);
        }
        ++free_blocks;
        free_bytes += size;
      } else {
        if (live_.find(block.address) != i) {
          return fail(Status::kCorrupted, "allocated block at 0x%" PRIxPTR " is missing from the address map",
                      block.address);
        }
        ++live;
      }
    }
    if (expected != end) {
      return fail(Status::kCorrupted, "arena at 0x%" PRIxPTR " (size %zu) is tiled only up to 0x%" PRIxPTR,
                  arena->base, arena->size, expected);
    }
  }
  if (arenas != regions_ || reserved != reserved_ || peak_reserved_ < reserved_) {
    return fail(Status::kCorrupted,
                "arenas hold %zu bytes in %zu regions, counted %zu bytes in %zu regions (peak %zu)", reserved,
                arenas, reserved_, regions_, peak_reserved_);
  }
  if (listed_blocks != free_blocks || listed_bytes != free_bytes) {
    return fail(Status::kCorrupted,
                "size-class lists hold %zu blocks (%zu bytes), the arenas %zu free blocks (%zu bytes)",
                listed_blocks, listed_bytes, free_blocks, free_bytes);
  }
  if (free_blocks != free_blocks_ || free_bytes != free_bytes_) {
    return fail(Status::kCorrupted, "free counters say %zu blocks (%zu bytes), the arenas %zu (%zu bytes)",
                free_blocks_, free_bytes_, free_blocks, free_bytes);
  }
  if (live != live_.size()) {
    return fail(Status::kCorrupted, "the address map holds %zu entries for %zu allocated blocks", live_.size(),
                live);
  }
  if (!live_.consistent()) return fail(Status::kCorrupted, "the address map breaks its probing invariant");
  // Every node in use is a block, an arena's head or a spare.
  std::size_t spares = 0;
  for (Index i = spare_nodes_; i != 0 && spares <= spare_count_; i = at(i).next_free) {
    if (i >= nodes_used_) {
      return fail(Status::kCorrupted, "the spare nodes link node %" PRIu32 " of %zu in use", i, nodes_used_);
    }
    ++spares;
  }
  if (spares != spare_count_ || free_blocks + live + arenas + spares != nodes_used_ - 1) {
    return fail(Status::kCorrupted,
                "%zu nodes are in use, but %zu blocks, %zu arena heads and %zu spare nodes (%zu counted) hold them",
                nodes_used_ - 1, free_blocks + live, arenas, spares, spare_count_);
  }
  return Status::kOk;
}

}  // namespace detail

// Small requests try a slab first; one the slabs cannot serve (a stricter
// alignment, a refused carve) and every bad request go to TLSF, which serves
// or refuses them with its own detail.
template <ThreadSafety Mode>
Status VariablePool<Mode>::allocate(std::size_t size, std::size_t alignment, void** out) noexcept {
  std::lock_guard guard(lock_);
  if (slabs_.serves(size, alignment) && slabs_.allocate(core_, size, out)) [[likely]] return Status::kOk;
  // At its class's size, so that the block is counted_size(size) bytes
  // whoever serves it.
  const std::size_t rounded = slabs_.class_rounded(size);
  const Status status = core_.allocate(rounded, alignment, out);
  // The empty slabs the classes keep must not make a bounded pool refuse
  // what it could serve without them.
  if (status == Status::kOutOfPoolMemory && slabs_.release_empty(core_)) [[unlikely]] {
    return core_.allocate(rounded, alignment, out);
  }
  return status;
}

// A block of a slab that has since gone back to TLSF lies in TLSF's free
// space, which TLSF alone would call an invalid free: the slabs remember
// where their recent slabs' blocks began, and tell it for the double free
// it is.
template <ThreadSafety Mode>
Status VariablePool<Mode>::deallocate(void* ptr, std::size_t* freed_size) noexcept {
  std::lock_guard guard(lock_);
  if (detail::SlabClasses::Slab* slab = slabs_.owner(ptr); slab != nullptr) {
    return slabs_.deallocate(core_, slab, ptr, freed_size);
  }
  const Status status = core_.deallocate(ptr, freed_size);
  if (status == Status::kInvalidFree && slabs_.was_block(ptr) && core_.in_free_space(ptr)) [[unlikely]] {
    return fail(Status::kDoubleFree, "0x%" PRIxPTR " is already free (its slab has gone back to the arena)",
                reinterpret_cast<std::uintptr_t>(ptr));
  }
  return status;
}

// The slabs the classes keep empty go back first, so that their arenas can
// be wholly free.
template <ThreadSafety Mode>
std::size_t VariablePool<Mode>::trim() noexcept {
  std::lock_guard guard(lock_);
  slabs_.release_empty(core_);
  const std::size_t released = core_.trim();
  slabs_.release_free_pages(core_);
  return released;
}

template <ThreadSafety Mode>
Status VariablePool<Mode>::validate() const noexcept {
  std::lock_guard guard(lock_);
  const Status status = core_.validate();
  return status != Status::kOk ? status : slabs_.validate(core_);
}

template <ThreadSafety Mode>
std::size_t VariablePool<Mode>::pages_released() const noexcept {
  std::lock_guard guard(lock_);
  return core_.pages_released();
}

template <ThreadSafety Mode>
Fragmentation VariablePool<Mode>::fragmentation() const noexcept {
  std::lock_guard guard(lock_);
  return slabs_.fragmentation(core_);
}

template <ThreadSafety Mode>
Reservation VariablePool<Mode>::reservation() const noexcept {
  std::lock_guard guard(lock_);
  return core_.reservation();
}

template <ThreadSafety Mode>
Status VariablePool<Mode>::snapshot(MemorySnapshot* out) const noexcept try {
  *out = MemorySnapshot{};
  for (std::size_t regions = 0, runs = 0;;) {
    out->make_room(regions, runs);
    std::lock_guard guard(lock_);
    regions = core_.reservation().regions;
    runs = core_.snapshot_runs() + slabs_.snapshot_runs();
    if (out->has_room(regions, runs)) {
      core_.snapshot(slabs_, out);
      break;
    }
  }
  out->sort_regions();  // arenas are listed newest first
  return Status::kOk;
} catch (const std::bad_alloc&) {
  *out = MemorySnapshot{};
  return fail(Status::kInternal, "variable pool: out of host memory for the snapshot");
}

template <ThreadSafety Mode>
std::size_t VariablePool<Mode>::block_size(const void* ptr) const noexcept {
  std::lock_guard guard(lock_);
  if (const detail::SlabClasses::Slab* slab = slabs_.owner(ptr); slab != nullptr) {
    return slabs_.block_size(slab, ptr);
  }
  return core_.block_size(ptr);
}

template <ThreadSafety Mode>
std::size_t VariablePool<Mode>::take_parked(std::size_t cls, std::uint64_t* out, std::size_t max) noexcept {
  std::lock_guard guard(lock_);
  return slabs_.take_parked(core_, cls, out, max);
}

template <ThreadSafety Mode>
void VariablePool<Mode>::release_parked(const std::uint64_t* handles, std::size_t count) noexcept {
  std::lock_guard guard(lock_);
  slabs_.release_parked(core_, handles, count);
}

template <ThreadSafety Mode>
std::size_t VariablePool<Mode>::parked_blocks() const noexcept {
  std::lock_guard guard(lock_);
  return slabs_.claimed();
}

template <ThreadSafety Mode>
Status VariablePool<Mode>::validate_parked(std::size_t parked) const noexcept {
  if (Status status = validate(); status != Status::kOk) return status;
  const std::size_t claimed = parked_blocks();
  if (claimed != parked) {
    return fail(Status::kCorrupted, "%zu slab blocks are claimed as parked, the thread caches hold %zu", claimed,
                parked);
  }
  return Status::kOk;
}

template class VariablePool<ThreadSafety::kNone>;
template class VariablePool<ThreadSafety::kMutex>;

static_assert(PoolAlgorithm<VariablePool<ThreadSafety::kNone>>);
static_assert(PoolAlgorithm<VariablePool<ThreadSafety::kMutex>>);

}  // namespace nativepool
