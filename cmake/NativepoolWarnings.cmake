# SPDX-License-Identifier: Apache-2.0
# nativepool_warnings(<target>): the warning set every nativepool C++ target uses.
function(nativepool_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                             -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual>)
  if(NATIVEPOOL_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()
