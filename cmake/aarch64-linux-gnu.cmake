# SPDX-License-Identifier: Apache-2.0
# Toolchain file: linux-aarch64 with Debian's cross compiler
# (g++-aarch64-linux-gnu, whose target root is /usr/aarch64-linux-gnu).
# Used by the `aarch64` preset (tests under qemu-user, .ci/aarch64) and by
# Maven, which builds the aarch64 JNI library next to the x86_64 one (pom.xml).
#
# Extra target roots, such as Debian's arm64 GoogleTest unpacked into a
# directory, come in through -DCMAKE_FIND_ROOT_PATH=<dir>: they are searched
# before /usr/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries, headers and CMake packages come from the target's roots only, so
# an x86_64 library of the build machine is never linked in (nor its CUDA
# Toolkit found); programs (the build's own tools) from the build machine.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest and gtest_discover_tests run the aarch64 test programs through
# qemu-user (Debian: qemu-user), which finds the target's loader and libc
# under -L.
find_program(NATIVEPOOL_QEMU_AARCH64 qemu-aarch64)
if(NATIVEPOOL_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${NATIVEPOOL_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
endif()
