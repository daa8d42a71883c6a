# Compiler flags shared by every target: warnings, sanitizers, Asio settings.

add_library(vigie_warnings INTERFACE)
target_compile_options(vigie_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(VIGIE_WERROR)
  target_compile_options(vigie_warnings INTERFACE -Werror)
endif()

# Standalone Asio, no Boost. Clang 14 with libstdc++ 12 misses Asio 1.22's coroutine detection.
# Asio picks aligned_alloc only if a libstdc++ header came before its own, so translation units
# disagreed on how handler memory is allocated and freed (ASan saw the mismatch): never use it.
add_compile_definitions(ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_DISABLE_STD_ALIGNED_ALLOC)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_definitions(ASIO_HAS_CO_AWAIT=1 ASIO_HAS_STD_COROUTINE=1)
endif()

if(VIGIE_SANITIZE)
  string(REPLACE ";" "," _vigie_san "${VIGIE_SANITIZE}")
  add_compile_options(-fsanitize=${_vigie_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_vigie_san})
  if("thread" IN_LIST VIGIE_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC warns that TSan does not model the fences in libstdc++'s and Asio's headers; the code
    # under test uses none of its own.
    add_compile_options(-Wno-tsan)
  endif()
endif()
