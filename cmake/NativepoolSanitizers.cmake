# SPDX-License-Identifier: Apache-2.0
# NATIVEPOOL_SANITIZE: a list of sanitizers for every target, e.g.
# "address;undefined". The pools then poison free and guard regions for ASan
# (memory_hooks.hpp). A sanitized JNI library needs the sanitizer runtime
# preloaded into the JVM: see docs/debugging.md.
set(NATIVEPOOL_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address;undefined")
if(NATIVEPOOL_SANITIZE)
  list(JOIN NATIVEPOOL_SANITIZE "," _nativepool_sanitizers)
  # No recovery: a sanitizer finding fails the test that triggered it.
  add_compile_options(-fsanitize=${_nativepool_sanitizers} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${_nativepool_sanitizers})
  message(STATUS "nativepool: sanitizers ${_nativepool_sanitizers}")
endif()

# NATIVEPOOL_BUILD_FUZZERS: libFuzzer harnesses (tests/fuzz). Clang only; the
# whole build gets coverage instrumentation so the fuzzers see inside the core.
option(NATIVEPOOL_BUILD_FUZZERS "Build the libFuzzer harnesses (clang only)" OFF)
if(NATIVEPOOL_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NATIVEPOOL_BUILD_FUZZERS needs clang (e.g. CXX=clang++ CC=clang)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
