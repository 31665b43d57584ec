# SPDX-License-Identifier: Apache-2.0
# Valgrind memcheck client requests (memory_hooks.hpp) are compiled in when
# the headers exist; they cost a few no-op instructions outside Valgrind.
# NATIVEPOOL_VALGRIND is the valgrind executable, for the memcheck tests.
find_path(NATIVEPOOL_VALGRIND_INCLUDE_DIR valgrind/memcheck.h)
find_program(NATIVEPOOL_VALGRIND valgrind)
if(NATIVEPOOL_VALGRIND_INCLUDE_DIR)
  set(NATIVEPOOL_HAVE_VALGRIND ON)
  message(STATUS "nativepool: Valgrind client requests enabled (${NATIVEPOOL_VALGRIND_INCLUDE_DIR})")
else()
  set(NATIVEPOOL_HAVE_VALGRIND OFF)
  message(STATUS "nativepool: valgrind/memcheck.h not found; pools carry no memcheck client requests")
endif()
