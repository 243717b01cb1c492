# Embeds a text file (the dashboard page) in the binary as a C++ string_view, generated at build
# time and regenerated when the file changes.
#
#   mx_embed_text(<target> INPUT <file> OUTPUT_HEADER <header> SYMBOL <name>)
#
# writes <header> with `inline constexpr std::string_view <name> = R"mxraw(...)mxraw" ...;`
# (the text as raw-string pieces of at most ~8 KiB, split after a newline, which the compiler
# joins), adds it to <target>'s sources and the header's folder to <target>'s private include
# path, so `#include "<header file name>"` works. The generation fails if the text holds the
# closing delimiter `)mxraw"`.
#
# Run as a script (cmake -DINPUT=.. -DOUTPUT=.. -DSYMBOL=.. -P embed_file.cmake) this file does
# the generation itself; that is how the build step calls it.

set(MX_EMBED_FILE_SCRIPT ${CMAKE_CURRENT_LIST_FILE})

function(mx_embed_text target)
  cmake_parse_arguments(ARG "" "INPUT;OUTPUT_HEADER;SYMBOL" "" ${ARGN})
  if(NOT ARG_INPUT OR NOT ARG_OUTPUT_HEADER OR NOT ARG_SYMBOL)
    message(FATAL_ERROR "mx_embed_text(${target}): INPUT, OUTPUT_HEADER and SYMBOL are required")
  endif()
  if(NOT ARG_SYMBOL MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "mx_embed_text(${target}): SYMBOL '${ARG_SYMBOL}' is not a C++ identifier")
  endif()
  get_filename_component(input ${ARG_INPUT} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  get_filename_component(header ${ARG_OUTPUT_HEADER} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  get_filename_component(header_dir ${header} DIRECTORY)
  file(RELATIVE_PATH shown ${PROJECT_SOURCE_DIR} ${input})
  add_custom_command(
    OUTPUT ${header}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${header} -DSYMBOL=${ARG_SYMBOL}
            -P ${MX_EMBED_FILE_SCRIPT}
    DEPENDS ${input} ${MX_EMBED_FILE_SCRIPT}
    COMMENT "Embedding ${shown} as ${ARG_SYMBOL}"
    VERBATIM)
  target_sources(${target} PRIVATE ${header})
  target_include_directories(${target} PRIVATE ${header_dir})
endfunction()

# Script mode: the generation step.
if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  foreach(var INPUT OUTPUT SYMBOL)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "embed_file.cmake: -D${var}=... is required")
    endif()
  endforeach()
  file(READ ${INPUT} text)
  set(delimiter "mxraw")
  string(FIND "${text}" ")${delimiter}\"" found)
  if(NOT found EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains ')${delimiter}\"', which would end the raw string "
                        "literal; write it differently there (e.g. ')' + 'mxraw\"' in JS)")
  endif()

  # Pieces of about 8 KiB, each ending after a newline (so no UTF-8 sequence is ever cut), or
  # the whole rest where a line is longer than that.
  set(pieces "")
  string(LENGTH "${text}" remaining)
  set(chunk 8192)
  while(remaining GREATER 0)
    if(remaining GREATER chunk)
      string(SUBSTRING "${text}" 0 ${chunk} head)
      string(FIND "${head}" "\n" cut REVERSE)
      if(cut EQUAL -1)
        string(FIND "${text}" "\n" cut)  # one long line: up to its end
        if(cut EQUAL -1)
          set(cut ${remaining})
        else()
          math(EXPR cut "${cut} + 1")
        endif()
      else()
        math(EXPR cut "${cut} + 1")
      endif()
    else()
      set(cut ${remaining})
    endif()
    string(SUBSTRING "${text}" 0 ${cut} piece)
    string(SUBSTRING "${text}" ${cut} -1 text)
    string(APPEND pieces "R\"${delimiter}(${piece})${delimiter}\"\n")
    math(EXPR remaining "${remaining} - ${cut}")
  endwhile()
  if(pieces STREQUAL "")
    set(pieces "\"\"\n")
  endif()

  get_filename_component(input_name ${INPUT} NAME)
  set(content "// Generated from ${input_name} by cmake/embed_file.cmake at build time. Do not edit.
#pragma once

#include <string_view>

inline constexpr std::string_view ${SYMBOL} =
${pieces};
")
  # Only a changed header is rewritten: its dependents are not rebuilt for nothing.
  if(EXISTS ${OUTPUT})
    file(READ ${OUTPUT} previous)
  endif()
  if(NOT previous STREQUAL content)
    file(WRITE ${OUTPUT} "${content}")
  endif()
endif()
