# gRPC / protobuf code generation at build time, with Debian's packaged protoc and grpc_cpp_plugin.
#
#   mx_grpc_library(<target> PROTOS <file.proto>... [IMPORT_DIRS <dir>...])
#
# runs protoc (--cpp_out) and grpc_cpp_plugin (--grpc_out) on each .proto into
# ${CMAKE_CURRENT_BINARY_DIR}/<target>_gen and builds a static library from the generated code.
# A proto's generated name is its path relative to the import dir that holds it (the directory of
# the proto when IMPORT_DIRS is not given): PROTOS a/b/c.proto with IMPORT_DIRS a gives b/c.pb.h
# and b/c.grpc.pb.h, included as "b/c.grpc.pb.h". The generated code is not ours: it is compiled
# without -Werror and its headers are SYSTEM includes, so project targets that include them keep
# -Wall -Wextra -Werror.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET GLOBAL grpc++)
pkg_check_modules(PROTOBUF REQUIRED IMPORTED_TARGET GLOBAL protobuf)
find_program(MX_PROTOC protoc REQUIRED)
find_program(MX_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(mx_grpc_library target)
  cmake_parse_arguments(ARG "" "" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT ARG_PROTOS)
    message(FATAL_ERROR "mx_grpc_library(${target}): PROTOS is empty")
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${target}_gen)
  file(MAKE_DIRECTORY ${out_dir})

  set(import_dirs ${ARG_IMPORT_DIRS})
  if(NOT import_dirs)
    foreach(proto ${ARG_PROTOS})
      get_filename_component(proto_dir ${proto} DIRECTORY)
      list(APPEND import_dirs ${proto_dir})
    endforeach()
    list(REMOVE_DUPLICATES import_dirs)
  endif()
  set(include_flags)
  foreach(dir ${import_dirs})
    list(APPEND include_flags -I ${dir})
  endforeach()
  # google/protobuf/*.proto (well-known types) from the packaged headers.
  list(APPEND include_flags -I ${PROTOBUF_INCLUDEDIR})

  set(generated)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(proto ${proto} ABSOLUTE)
    set(rel "")
    foreach(dir ${import_dirs})
      get_filename_component(dir ${dir} ABSOLUTE)
      cmake_path(IS_PREFIX dir ${proto} NORMALIZE is_under)
      if(is_under)
        file(RELATIVE_PATH rel ${dir} ${proto})
        break()
      endif()
    endforeach()
    if(rel STREQUAL "")
      message(FATAL_ERROR "mx_grpc_library(${target}): ${proto} is under none of the IMPORT_DIRS")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outputs ${out_dir}/${stem}.pb.cc ${out_dir}/${stem}.pb.h ${out_dir}/${stem}.grpc.pb.cc
                ${out_dir}/${stem}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${MX_PROTOC} ${include_flags} --cpp_out=${out_dir} --grpc_out=${out_dir}
              --plugin=protoc-gen-grpc=${MX_GRPC_CPP_PLUGIN} ${proto}
      DEPENDS ${proto} ${MX_PROTOC} ${MX_GRPC_CPP_PLUGIN}
      COMMENT "protoc + grpc_cpp_plugin: ${rel}"
      VERBATIM)
    list(APPEND generated ${outputs})
  endforeach()

  add_library(${target} STATIC ${generated})
  target_compile_options(${target} PRIVATE -w)  # generated code: not ours to warn about
  target_include_directories(${target} SYSTEM PUBLIC ${out_dir})
  target_link_libraries(${target} PUBLIC PkgConfig::GRPCPP PkgConfig::PROTOBUF)
endfunction()
