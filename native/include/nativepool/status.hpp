// SPDX-License-Identifier: Apache-2.0
/// @file status.hpp
/// @brief Status codes returned by every fallible nativepool call, and the
/// thread-local detail message that explains the most recent failure.
///
/// nativepool never lets a C++ exception escape into JNI: every operation that
/// can fail returns a Status. The fast path only returns the code; the code
/// that detects a failure (always a slow path) records a human-readable detail
/// with set_error_detail(), which the JNI layer turns into the exception text.
/// This is the errno/strerror pattern, made thread-local so concurrent pools
/// never see each other's messages.
#pragma once

#include <cstdint>

namespace nativepool {

/// Outcome of a pool or backend operation. Values are part of the JNI
/// contract (mirrored by org.nativepool.internal.ErrorCode): append only.
enum class Status : std::int32_t {
  kOk = 0,
  /// A size, alignment or configuration value is out of range.
  kInvalidArgument = 1,
  /// The pool reached its maximum capacity, or its backend refused to grow.
  kOutOfPoolMemory = 2,
  /// The pointer was never handed out by this pool (foreign or interior).
  kInvalidFree = 3,
  /// The pointer was handed out by this pool but is already free.
  kDoubleFree = 4,
  /// The operation needs an optional component that is absent.
  kFeatureUnavailable = 5,
  /// A pool invariant is broken (reported by validate()).
  kCorrupted = 6,
  /// A bug inside nativepool, or an allocation of metadata failed.
  kInternal = 7,
  /// A GPU runtime call failed; the detail names the call and the CUDA error
  /// (see gpu/device_error.hpp for the structured form).
  kDeviceError = 8,
  /// CUDA is compiled in but no device is usable (no driver or no GPU).
  kNoDevice = 9,
  /// User code wrote outside a block or into freed memory: a guard or a
  /// poison pattern was overwritten. corruption.hpp holds the details.
  kMemoryCorrupted = 10,
  /// A persistent heap file lacks the heap's signature (persistent_heap.hpp).
  kNotAPool = 11,
  /// A persistent heap file is shorter than its header says.
  kTruncated = 12,
  /// A persistent heap file has a format version this build does not read.
  kVersionMismatch = 13,
  /// A checksum over persistent metadata does not match its contents.
  kChecksumMismatch = 14,
  /// Another open handle (this process or another) holds the file's lock.
  kAlreadyOpen = 15,
  /// A system call on a file failed; the detail names the call and errno.
  kIoError = 16,
  /// A backend plugin's library is missing or the loader refused it.
  kPluginNotFound = 17,
  /// A backend plugin's library lacks the entry symbol (plugin.h).
  kPluginSymbolMissing = 18,
  /// A backend plugin's table has another ABI major, or is truncated.
  kPluginAbiMismatch = 19,
  /// A backend plugin refused its options; the detail is its own message.
  kPluginOptionError = 20,
  /// A backend plugin broke its contract (a null, misaligned or overlapping
  /// region, a failed return): the pool refused the result and is unchanged.
  kPluginFault = 21,
};

/// Stable upper-case name of a status, e.g. "OUT_OF_POOL_MEMORY".
[[nodiscard]] const char* status_name(Status status) noexcept;

/// Records the detail message for the failure being returned on this thread.
/// printf-style; truncated to an internal buffer. Returns @p status so that
/// failure sites read `return fail(Status::kInvalidArgument, "...", ...)`.
[[gnu::format(printf, 2, 3)]] Status fail(Status status, const char* format, ...) noexcept;

/// Adds context to the failure being passed up: the detail becomes the
/// printf-style prefix, ": ", then the detail recorded below (a layer that
/// knows which element of a batch, or which setting, failed says so without
/// losing the message of the layer that found the fault). Returns @p status.
[[gnu::format(printf, 2, 3)]] Status fail_with_detail(Status status, const char* format, ...) noexcept;

/// Detail message of the most recent failure on this thread ("" if none).
[[nodiscard]] const char* error_detail() noexcept;

/// Clears this thread's detail message.
void clear_error_detail() noexcept;

}  // namespace nativepool
