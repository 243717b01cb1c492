# cmake -P strip_proto_options.cmake -DIN=<file.proto> -DOUT=<file.proto>
#
# Copies a .proto without the options that only Go tooling understands: the gogoproto imports and
# options (marshaler_all, nullable, ...) and the grpc-gateway `option (google.api.http) = {...};`
# blocks with their google/api/annotations.proto import. protoc cannot resolve those imports
# (Debian ships no .proto for them) and they change nothing in the C++ code or on the wire.
if(NOT DEFINED IN OR NOT DEFINED OUT)
  message(FATAL_ERROR "usage: cmake -DIN=<in.proto> -DOUT=<out.proto> -P strip_proto_options.cmake")
endif()
file(READ ${IN} text)
# Imports of the Go-only option definitions.
string(REGEX REPLACE "import \"gogoproto/gogo.proto\";" "" text "${text}")
string(REGEX REPLACE "import \"google/api/annotations.proto\";" "" text "${text}")
# File-level gogoproto options: option (gogoproto.marshaler_all) = true;
string(REGEX REPLACE "option \\(gogoproto\\.[a-z_]+\\) = [a-z]+;" "" text "${text}")
# grpc-gateway options on rpcs: option (google.api.http) = { post: "/v3/kv/range" body: "*" };
# with at most one level of nested braces (additional_bindings { ... }).
string(REGEX REPLACE "option \\(google\\.api\\.http\\) = {([^{}]*{[^{}]*})*[^{}]*};" "" text
       "${text}")
# Field options: [(gogoproto.nullable) = false] and lists of them, e.g. `Event ev = 1 [(...)];`.
string(REGEX REPLACE " *\\[\\(gogoproto\\.[^]]*\\]" "" text "${text}")
if(text MATCHES "gogoproto|google\\.api")
  message(FATAL_ERROR "${IN}: a gogoproto or google.api option is left after stripping; "
                      "extend cmake/strip_proto_options.cmake for it")
endif()
file(WRITE ${OUT} "${text}")
