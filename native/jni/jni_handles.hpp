// SPDX-License-Identifier: Apache-2.0
/// @file jni_handles.hpp
/// @brief The handle table: every native object a Java handle names (pools,
/// block caches, device managers, streams, events) is reached through a
/// token the glue validates, never through a pointer the caller supplies.
///
/// The classes of org.nativepool.internal are public, so any code on the
/// class path can call their natives with any long. A token is
/// generation << 32 | kind << 24 | index: a lookup masks the index (the
/// bounds check), loads its slot and compares the slot's live token with the
/// one given (generation and kind in one compare). Zero, made-up, destroyed
/// and reused tokens, and a pool's token passed as a manager's, all fail that
/// compare and become an InvalidArgumentException naming the handle.
///
/// Slots are never freed (a retired slot only changes its token), so a stale
/// token reads memory that stays valid. The Java guards keep a legitimate
/// handle live for the whole of each call; a forged token racing a destroy
/// on another thread is the one misuse this table cannot make safe.
#pragma once

#include <jni.h>

#include <atomic>
#include <cstdint>

namespace nativepool::jni {

/// What a token names; part of the token, so one kind's token is refused as
/// another's.
enum class HandleKind : std::uint8_t {
  kPool = 1,
  kCache = 2,
  kManager = 3,
  kStream = 4,
  kEvent = 5,
  kPersistent = 6,
};

namespace handles {

struct Slot {
  std::atomic<std::uint64_t> token{0};  ///< the live token, 0 while free
  void* object = nullptr;               ///< written before token is published
  std::uint64_t owner = 0;              ///< the token this object belongs to (a stream's manager), or 0
};

inline constexpr unsigned kIndexBits = 24;
inline constexpr unsigned kChunkBits = 12;
inline constexpr std::uint64_t kIndexMask = (std::uint64_t{1} << kIndexBits) - 1;
inline constexpr std::size_t kSlotsPerChunk = std::size_t{1} << kChunkBits;
inline constexpr std::size_t kChunks = std::size_t{1} << (kIndexBits - kChunkBits);

/// Chunks of slots, allocated on demand and never freed.
extern std::atomic<Slot*> g_chunks[kChunks];

/// The slot a token's index names, or null when no slot was ever made there.
inline Slot* slot_of(std::uint64_t token) noexcept {
  const std::uint64_t index = token & kIndexMask;
  Slot* chunk = g_chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index & (kSlotsPerChunk - 1)];
}

/// The kind bits a token of @p kind carries.
inline constexpr std::uint64_t kind_bits(HandleKind kind) noexcept {
  return static_cast<std::uint64_t>(kind) << kIndexBits;
}

/// The slot of @p token when the token is live as @p kind, else null.
inline Slot* live_slot(std::uint64_t token, HandleKind kind) noexcept {
  Slot* slot = slot_of(token);
  if (slot == nullptr || slot->token.load(std::memory_order_acquire) != token ||
      (token & (std::uint64_t{0xff} << kIndexBits)) != kind_bits(kind)) [[unlikely]] {
    return nullptr;
  }
  return slot;
}

/// Throws the InvalidArgumentException for a token that is not live as
/// @p kind, saying why (zero, never issued, destroyed, another kind).
[[gnu::noinline]] void refuse(JNIEnv* env, jlong token, HandleKind kind) noexcept;

/// Throws the InvalidArgumentException for a live token used with an owner
/// it does not belong to (a stream of another manager).
[[gnu::noinline]] void refuse_owner(JNIEnv* env, jlong token, HandleKind kind, std::uint64_t actual,
                                    jlong owner) noexcept;

}  // namespace handles

/// The object @p token names as @p kind, or null with an exception pending.
template <class T>
T* find(JNIEnv* env, jlong token, HandleKind kind) noexcept {
  handles::Slot* slot = handles::live_slot(static_cast<std::uint64_t>(token), kind);
  if (slot == nullptr) [[unlikely]] {
    handles::refuse(env, token, kind);
    return nullptr;
  }
  return static_cast<T*>(slot->object);
}

/// Like find(), for an object that belongs to the object of token @p owner
/// and may itself be 0 (a runtime's stream): stores it in @p object, or
/// returns false with an exception pending.
[[nodiscard]] inline bool find_owned(JNIEnv* env, jlong token, HandleKind kind, jlong owner, void** object) noexcept {
  handles::Slot* slot = handles::live_slot(static_cast<std::uint64_t>(token), kind);
  if (slot == nullptr || slot->owner != static_cast<std::uint64_t>(owner)) [[unlikely]] {
    if (slot == nullptr) {
      handles::refuse(env, token, kind);
    } else {
      handles::refuse_owner(env, token, kind, slot->owner, owner);
    }
    return false;
  }
  *object = slot->object;
  return true;
}

/// A new token for @p object (never 0), recording @p owner, the token of
/// the object it belongs to; 0 with an exception pending when the table is
/// full or out of host memory.
[[nodiscard]] jlong issue(JNIEnv* env, HandleKind kind, void* object, jlong owner = 0) noexcept;

/// Ends @p token: stores its object in @p object and frees the slot for a
/// later token of another generation. False with an exception pending when
/// the token is not live as @p kind (also when @p owner is not its owner).
[[nodiscard]] bool retire(JNIEnv* env, jlong token, HandleKind kind, void** object, jlong owner = 0) noexcept;

}  // namespace nativepool::jni
