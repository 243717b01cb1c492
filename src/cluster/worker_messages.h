// The engine's plain types to and from the worker API's protobuf messages
// (src/cluster/proto/worker.proto). Conversions are total: every field crosses, and
// from_proto checks what a peer could get wrong (an unknown stop reason, an error code out of
// range) instead of trusting it.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "worker.pb.h"

namespace mx {

void to_proto(const SequenceRequest& in, mxserve::worker::SequenceRequest& out);
SequenceRequest from_proto(const mxserve::worker::SequenceRequest& in);

void to_proto(int32_t index, const TokenEvent& in, mxserve::worker::TokenEvent& out);
TokenEvent from_proto(const mxserve::worker::TokenEvent& in);

void to_proto(const EngineLimits& in, mxserve::worker::EngineLimits& out);
EngineLimits from_proto(const mxserve::worker::EngineLimits& in);

void to_proto(const EngineStats& in, mxserve::worker::EngineStats& out);
EngineStats from_proto(const mxserve::worker::EngineStats& in);

// An Error as an Admission refusal, and back.
void to_proto(const Error& in, mxserve::worker::Admission& out);
Error error_from_proto(const mxserve::worker::Admission& in);

// Fingerprints travel as 16 lowercase hex digits in etcd (Member) and as uint64 in RPCs.
std::string fingerprint_hex(uint64_t fingerprint);

}  // namespace mx
