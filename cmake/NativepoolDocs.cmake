# SPDX-License-Identifier: Apache-2.0
# API reference of the C++ core: `cmake --build <dir> --target docs` runs
# Doxygen over the public headers (native/include/nativepool) into
# <dir>/docs/html. Optional: without Doxygen (Debian: doxygen) the target is
# absent and the build says so. Any Doxygen warning (a @param naming no
# parameter, a broken reference, bad markup) fails the target, so CI keeps
# the header comments true.
find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "nativepool: no 'docs' target: Doxygen not found")
  return()
endif()

set(DOXYGEN_PROJECT_NAME "nativepool")
set(DOXYGEN_PROJECT_BRIEF "Native memory pools for Java: the C++ core")
set(DOXYGEN_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/docs")
set(DOXYGEN_STRIP_FROM_PATH "${PROJECT_SOURCE_DIR}/native/include")
set(DOXYGEN_GENERATE_LATEX NO)
# Undocumented members are listed rather than warned about: the headers
# document what needs saying, not every accessor.
set(DOXYGEN_EXTRACT_ALL YES)
set(DOXYGEN_EXTRACT_PRIVATE NO)
set(DOXYGEN_WARN_IF_UNDOCUMENTED NO)
set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)
set(DOXYGEN_QUIET YES)
set(DOXYGEN_EXCLUDE_SYMBOLS "detail" "*::detail::*")
set(DOXYGEN_PREDEFINED "NATIVEPOOL_HAVE_CUDA=1" "NATIVEPOOL_HAVE_VALGRIND=1")
doxygen_add_docs(docs "${PROJECT_SOURCE_DIR}/native/include/nativepool"
                 COMMENT "Doxygen: C++ API reference in ${CMAKE_BINARY_DIR}/docs/html")
