# Shared settings for every project target: include root, warnings as errors.
function(mx_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  # GCC 12 reports false -Wrestrict / -Wstringop-overflow errors inside libstdc++'s std::string
  # at -O2 and above (GCC bugs 105329, 105651); they are not in our code.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict -Wno-stringop-overflow)
  endif()
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
endfunction()

# mx_library(NAME folder DEPS ...): one static library per src/ folder, sources globbed
# (files are added and removed often; CONFIGURE_DEPENDS keeps the glob honest).
function(mx_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;SOURCES" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(${name} STATIC ${srcs} ${ARG_SOURCES})
  mx_target_defaults(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()
