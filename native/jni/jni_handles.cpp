// SPDX-License-Identifier: Apache-2.0
#include "jni_handles.hpp"

#include <cinttypes>
#include <mutex>
#include <new>
#include <vector>

#include "jni_errors.hpp"
#include "nativepool/status.hpp"

namespace nativepool::jni {
namespace handles {

std::atomic<Slot*> g_chunks[kChunks];

namespace {

// Issuing and retiring are rare (a pool, cache, manager, stream or event is
// created or destroyed), so one mutex guards the free list, the generations
// and the growth of the table; lookups take no lock.
struct Table {
  std::mutex mutex;
  std::vector<std::uint32_t> free;         // indices of retired slots
  std::vector<std::uint32_t> generations;  // per index: the generation of its latest token
};

Table& table() noexcept {
  static Table instance;
  return instance;
}

const char* kind_name(HandleKind kind) noexcept {
  switch (kind) {
    case HandleKind::kPool: return "pool";
    case HandleKind::kCache: return "block cache";
    case HandleKind::kManager: return "device manager";
    case HandleKind::kStream: return "stream";
    case HandleKind::kEvent: return "event";
    case HandleKind::kPersistent: return "persistent pool";
  }
  return "unknown";
}

}  // namespace

void refuse(JNIEnv* env, jlong token, HandleKind kind) noexcept {
  const auto bits = static_cast<std::uint64_t>(token);
  const char* name = kind_name(kind);
  const auto given = static_cast<HandleKind>((bits >> kIndexBits) & 0xff);
  const auto generation = static_cast<std::uint32_t>(bits >> 32);
  const Slot* slot = slot_of(bits);
  const std::uint64_t live = slot == nullptr ? 0 : slot->token.load(std::memory_order_acquire);
  bool issued = false;  // a token this table handed out once
  if (slot != nullptr && generation != 0) {
    Table& t = table();
    const std::lock_guard lock(t.mutex);
    const std::uint64_t index = bits & kIndexMask;
    issued = index < t.generations.size() && generation <= t.generations[index];
  }
  if (bits == 0) {
    (void)fail(Status::kInvalidArgument, "%s handle 0 names no %s", name, name);
  } else if (live == bits) {
    (void)fail(Status::kInvalidArgument, "0x%" PRIx64 " is a %s handle, not a %s handle", bits, kind_name(given),
               name);
  } else if (issued && given == kind) {
    (void)fail(Status::kInvalidArgument, "%s handle 0x%" PRIx64 " was destroyed", name, bits);
  } else {
    (void)fail(Status::kInvalidArgument, "0x%" PRIx64 " is not a %s handle nativepool issued", bits, name);
  }
  throw_status(env, Status::kInvalidArgument, nullptr, 0);
}

void refuse_owner(JNIEnv* env, jlong token, HandleKind kind, std::uint64_t actual, jlong owner) noexcept {
  (void)fail(Status::kInvalidArgument, "%s handle 0x%" PRIx64 " belongs to handle 0x%" PRIx64 ", not to 0x%" PRIx64,
             kind_name(kind), static_cast<std::uint64_t>(token), actual, static_cast<std::uint64_t>(owner));
  throw_status(env, Status::kInvalidArgument, nullptr, 0);
}

}  // namespace handles

jlong issue(JNIEnv* env, HandleKind kind, void* object, jlong owner) noexcept {
  using namespace handles;
  Table& t = table();
  std::uint64_t token = 0;
  {
    const std::lock_guard lock(t.mutex);
    try {
      std::uint32_t index = 0;
      if (!t.free.empty()) {
        index = t.free.back();
        t.free.pop_back();
      } else if (t.generations.size() <= kIndexMask) {
        index = static_cast<std::uint32_t>(t.generations.size());
        std::atomic<Slot*>& chunk = g_chunks[index >> kChunkBits];
        if (chunk.load(std::memory_order_relaxed) == nullptr) {
          chunk.store(new Slot[kSlotsPerChunk], std::memory_order_release);
        }
        t.generations.push_back(0);
        // retire() pushes without allocating: the free list never outgrows the table.
        t.free.reserve(t.generations.size());
      } else {
        (void)fail(Status::kInternal, "the handle table is full (%zu live handles)", t.generations.size());
        throw_status(env, Status::kInternal, nullptr, 0);
        return 0;
      }
      // Generation 0 is never issued, so no token is 0 and a slot's first
      // token differs from the zero it starts with.
      std::uint32_t& generation = t.generations[index];
      generation = generation == UINT32_MAX ? 1 : generation + 1;
      token = std::uint64_t{generation} << 32 | kind_bits(kind) | index;
      Slot& slot = *slot_of(token);
      slot.object = object;
      slot.owner = static_cast<std::uint64_t>(owner);
      slot.token.store(token, std::memory_order_release);
    } catch (const std::bad_alloc&) {
      (void)fail(Status::kInternal, "out of host memory for the handle table");
      throw_status(env, Status::kInternal, nullptr, 0);
      return 0;
    }
  }
  return static_cast<jlong>(token);
}

bool retire(JNIEnv* env, jlong token, HandleKind kind, void** object, jlong owner) noexcept {
  using namespace handles;
  Table& t = table();
  std::unique_lock lock(t.mutex);
  // Checked under the table's mutex, so two retires of one token cannot both succeed.
  const auto bits = static_cast<std::uint64_t>(token);
  Slot* slot = live_slot(bits, kind);
  if (slot == nullptr || slot->owner != static_cast<std::uint64_t>(owner)) [[unlikely]] {
    const std::uint64_t actual = slot == nullptr ? 0 : slot->owner;
    lock.unlock();
    if (slot == nullptr) {
      refuse(env, token, kind);
    } else {
      refuse_owner(env, token, kind, actual, owner);
    }
    return false;
  }
  *object = slot->object;
  slot->token.store(0, std::memory_order_release);
  t.free.push_back(static_cast<std::uint32_t>(bits & kIndexMask));
  return true;
}

}  // namespace nativepool::jni
