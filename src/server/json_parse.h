// Bounded, linear-time JSON parsing of request bodies (and of JSON a client embeds in them, such
// as tool-call arguments) into nlohmann::ordered_json.
//
// Why not ordered_json::parse: ordered_json keeps an object's keys in a vector and every insert
// scans it for a duplicate, so an object of N keys costs O(N²) — a 1 MiB body with 100,000 keys
// in an ignored field took seconds. This parser drives nlohmann's (iterative) SAX reader and
// builds the same value with a hash index per large object, so the work is linear in the body.
//
// Bounds, each refused with a message that names the limit: nesting depth, object keys in the
// whole document, and values (scalars, arrays, objects, array elements) in the whole document.
// Duplicated keys: the last value wins, at the key's first position (what Python's json — and so
// the OpenAI API — does, and what ordered_json::parse did).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace mx {

struct JsonLimits {
  int max_depth = 128;            // arrays/objects nested in each other
  size_t max_keys = 100'000;      // object members, all objects together
  size_t max_values = 2'000'000;  // every value: scalars, arrays, objects
};

// The parsed document; kInvalidArgument with a message for the client on malformed JSON ("... at
// byte 12: ...") or a bound exceeded ("... more than 100000 object keys ...").
// `what` names the text in messages: "request body", "tool call arguments".
Result<nlohmann::ordered_json> parse_json_bounded(std::string_view text, const JsonLimits& limits,
                                                  std::string_view what = "request body");

}  // namespace mx
