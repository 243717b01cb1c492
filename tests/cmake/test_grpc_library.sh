#!/usr/bin/env bash
# cmake/grpc.cmake: mx_grpc_library as a project would use it for its own service — a proto with
# the default import dir (unary + server-streaming rpc, a well-known type import), and protos that
# import each other under IMPORT_DIRS — builds with -Wall -Wextra -Werror on the including code,
# and a real gRPC server and client built from it talk over 127.0.0.1.
# MX_SOURCE_DIR: the repository root.
set -euo pipefail
source_dir="${MX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/proto" "$work/src/tree/a" "$work/src/tree/c"

cat >"$work/src/proto/echo.proto" <<'PROTO'
syntax = "proto3";
package echo;
import "google/protobuf/timestamp.proto";
message Ping { string text = 1; int32 count = 2; google.protobuf.Timestamp sent = 3; }
message Pong { string text = 1; }
service Echo {
  rpc Say(Ping) returns (Pong);
  rpc Count(Ping) returns (stream Pong);
}
PROTO
cat >"$work/src/tree/c/d.proto" <<'PROTO'
syntax = "proto3";
package tree;
message Leaf { int64 value = 1; }
PROTO
cat >"$work/src/tree/a/b.proto" <<'PROTO'
syntax = "proto3";
package tree;
import "c/d.proto";
message Branch { repeated Leaf leaves = 1; }
PROTO

cat >"$work/src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(grpc_library_test CXX)
set(CMAKE_CXX_STANDARD 20)
include($source_dir/cmake/grpc.cmake)
mx_grpc_library(echo_proto PROTOS \${CMAKE_CURRENT_SOURCE_DIR}/proto/echo.proto)
mx_grpc_library(tree_proto PROTOS \${CMAKE_CURRENT_SOURCE_DIR}/tree/a/b.proto
                \${CMAKE_CURRENT_SOURCE_DIR}/tree/c/d.proto
                IMPORT_DIRS \${CMAKE_CURRENT_SOURCE_DIR}/tree)
add_executable(check main.cpp)
target_compile_options(check PRIVATE -Wall -Wextra -Werror)
target_link_libraries(check PRIVATE echo_proto tree_proto)
CMAKE

cat >"$work/src/main.cpp" <<'CPP'
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>

#include "a/b.pb.h"
#include "echo.grpc.pb.h"

class EchoService final : public echo::Echo::Service {
  grpc::Status Say(grpc::ServerContext*, const echo::Ping* ping, echo::Pong* pong) override {
    pong->set_text(ping->text() + "!");
    return grpc::Status::OK;
  }
  grpc::Status Count(grpc::ServerContext*, const echo::Ping* ping,
                     grpc::ServerWriter<echo::Pong>* writer) override {
    for (int i = 0; i < ping->count(); ++i) {
      echo::Pong pong;
      pong.set_text(std::to_string(i));
      writer->Write(pong);
    }
    return grpc::Status::OK;
  }
};

int main() {
  tree::Branch branch;
  branch.add_leaves()->set_value(7);
  if (tree::Branch().ParseFromString(branch.SerializeAsString()) == false) return 1;

  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) return 2;
  auto stub = echo::Echo::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));

  grpc::ClientContext unary;
  unary.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  echo::Ping ping;
  ping.set_text("hello");
  ping.set_count(3);
  ping.mutable_sent()->set_seconds(1);
  echo::Pong pong;
  grpc::Status status = stub->Say(&unary, ping, &pong);
  if (!status.ok() || pong.text() != "hello!") return 3;

  grpc::ClientContext streaming;
  streaming.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = stub->Count(&streaming, ping);
  std::string got;
  while (reader->Read(&pong)) got += pong.text();
  if (!reader->Finish().ok() || got != "012") return 4;
  server->Shutdown();
  std::puts("ok   unary and server-streaming rpc over generated stubs");
  return 0;
}
CPP

cmake -S "$work/src" -B "$work/build" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
for header in echo.pb.h echo.grpc.pb.h; do
  [ -f "$work/build/echo_proto_gen/$header" ] || { echo "FAIL: $header not generated"; exit 1; }
done
[ -f "$work/build/tree_proto_gen/a/b.pb.h" ] || { echo "FAIL: a/b.pb.h not generated"; exit 1; }
timeout 30 "$work/build/check"
