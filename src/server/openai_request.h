// OpenAI request bodies → typed, validated requests. Pure functions, no I/O.
//
// parse_chat_completion_request (POST /v1/chat/completions) and parse_completion_request
// (POST /v1/completions) take the raw body text and return either the typed request or the
// ApiError to answer with: HTTP 400, `param` naming the offending field, and a message that says
// what is wrong and what is allowed ("temperature must be between 0 and 2, got 3.5"; malformed
// JSON: the line, column and byte of the parse error). Unknown fields are ignored, as OpenAI
// clients send extras; an explicit null means "not given". The sampling fields are mapped into
// an mx::SamplingParams; checks that need the model (token ids against the vocabulary, prompt
// plus max_tokens against the context) are left to the caller, which knows the model.
//
// Chat messages are kept as nlohmann::ordered_json (key order is visible to chat templates),
// normalized for the template: text-part arrays joined into one string, tool-call arguments
// parsed from their JSON string into a value (as vLLM does; templates such as Llama 3.1's apply
// `tojson` to them).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler.h"
#include "server/api_result.h"
#include "server/json_parse.h"

namespace mx {

// Fields both endpoints share.
struct GenerationRequest {
  std::string model;  // empty when the client sent none (the server picks its model)
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage: a last chunk with usage
  int32_t n = 1;                      // choices per request, 1..16
  std::vector<std::string> stop;      // up to 4 non-empty stop strings
  std::optional<int32_t> max_tokens;  // max_completion_tokens if given, else max_tokens
  bool ignore_eos = false;            // extension (vLLM): keep generating past EOS
  SamplingParams sampling;            // temperature ... logit_bias, seed, logprobs
};

enum class ToolChoiceMode { kNone, kAuto, kRequired, kFunction };

struct ToolChoice {
  ToolChoiceMode mode = ToolChoiceMode::kAuto;
  std::string function_name;  // kFunction only
};

struct ChatCompletionRequest {
  GenerationRequest generation;
  nlohmann::ordered_json messages;  // validated and normalized array (see the file comment)
  nlohmann::ordered_json tools;     // the validated `tools` array as sent, or null
  ToolChoice tool_choice;           // default: auto (none when no tools were given)
  bool parallel_tool_calls = true;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();

  // What ChatTemplate::render takes: {messages, tools (when given), add_generation_prompt,
  // chat_template_kwargs}.
  nlohmann::ordered_json template_input(bool add_generation_prompt = true) const;
};

struct CompletionRequest {
  GenerationRequest generation;
  // Exactly one of the two: the prompt text, or the prompt's token ids (non-empty).
  std::string prompt_text;
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;
  // logprobs (0..5): report the chosen token's logprob and this many alternatives; unset = none.
  std::optional<int32_t> logprobs;
};

// Bounds on the work one body can cause (server/json_parse.h): nesting depth, object keys and
// values in the whole body. Generous for real requests (a 128k-token prompt as ids, thousands
// of messages), small enough that an 8 MiB body parses in well under a second.
inline constexpr int kMaxRequestJsonDepth = 128;
inline constexpr size_t kMaxRequestJsonKeys = 50'000;
inline constexpr size_t kMaxRequestJsonValues = 1'000'000;
inline constexpr JsonLimits kRequestJsonLimits{kMaxRequestJsonDepth, kMaxRequestJsonKeys,
                                               kMaxRequestJsonValues};

ApiResult<ChatCompletionRequest> parse_chat_completion_request(std::string_view body);
ApiResult<CompletionRequest> parse_completion_request(std::string_view body);

// Parses a request body into JSON in linear time: the ApiError of malformed JSON, a body that
// is not an object, or one beyond kRequestJsonLimits (the message names the limit).
ApiResult<nlohmann::ordered_json> parse_request_json(std::string_view body);

}  // namespace mx
