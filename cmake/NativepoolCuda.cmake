# SPDX-License-Identifier: Apache-2.0
# CUDA support. The core calls only the CUDA runtime API, from plain C++
# compiled by the host compiler, so no CUDA compiler is needed; the runtime is
# linked statically, so the JAR needs only the NVIDIA driver at run time.
#
# NATIVEPOOL_WITH_CUDA: AUTO (default) compiles CUDA in when the Toolkit is
# found, ON requires it, OFF leaves it out (the GPU API then says so).
set(NATIVEPOOL_WITH_CUDA "AUTO" CACHE STRING "Compile CUDA support in: AUTO, ON or OFF")
set_property(CACHE NATIVEPOOL_WITH_CUDA PROPERTY STRINGS AUTO ON OFF)

set(NATIVEPOOL_HAVE_CUDA OFF)
if(NOT NATIVEPOOL_WITH_CUDA STREQUAL "OFF")
  if(NATIVEPOOL_WITH_CUDA STREQUAL "ON")
    find_package(CUDAToolkit REQUIRED)
  else()
    find_package(CUDAToolkit QUIET)
  endif()
  if(CUDAToolkit_FOUND AND TARGET CUDA::cudart_static)
    set(NATIVEPOOL_HAVE_CUDA ON)
  endif()
endif()

if(NATIVEPOOL_HAVE_CUDA)
  message(STATUS "nativepool: CUDA ${CUDAToolkit_VERSION} compiled in (static runtime)")
else()
  message(STATUS "nativepool: CUDA not compiled in (NATIVEPOOL_WITH_CUDA=${NATIVEPOOL_WITH_CUDA})")
endif()

# nativepool_link_cuda(<target>): the CUDA runtime and define, when compiled in.
function(nativepool_link_cuda target)
  if(NATIVEPOOL_HAVE_CUDA)
    target_compile_definitions(${target} PUBLIC NATIVEPOOL_HAVE_CUDA=1)
    target_link_libraries(${target} PUBLIC CUDA::cudart_static)
  endif()
endfunction()
