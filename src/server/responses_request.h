// POST /v1/responses request bodies → the chat request the chat template renders. Pure
// functions, no I/O.
//
// The Responses API (the `openai` SDK's ResponseCreateParams) is mapped onto
// ChatCompletionRequest so /v1/responses runs the same template, tokenizer, engine and output
// pipeline as /v1/chat/completions:
//   instructions                  a system message first
//   input (string)                one user message
//   input (items)                 messages {role user/system/developer/assistant, content: a
//                                 string or input_text/output_text parts}; function_call
//                                 {call_id, name, arguments} → an assistant message's tool_calls
//                                 (joined onto the assistant message before it); function_call_
//                                 output {call_id, output} → a tool message; reasoning items →
//                                 the next assistant message's reasoning_content
//   tools                         flat function tools {type "function", name, description,
//                                 parameters, strict} → chat tools {type, function{...}}
//   tool_choice                   "none"/"auto"/"required" or {type "function", name}
//   max_output_tokens             max_tokens
//   reasoning.effort              "none"/"minimal" → chat_template_kwargs.enable_thinking false
//                                 (Qwen3-style templates); low/medium/high: the template default
// Also read: model, stream, temperature, top_p, parallel_tool_calls, and the extensions chat
// takes (top_k, min_p, seed, penalties, logit_bias, ignore_eos, chat_template_kwargs).
// Refused with 400: previous_response_id and item_reference inputs (nothing is stored),
// background, text.format other than {type "text"}, non-function tools, non-text input parts.
// Accepted and echoed: store, metadata, user. Other fields are ignored.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "server/api_result.h"
#include "server/openai_request.h"

namespace mx {

struct ResponsesRequest {
  ChatCompletionRequest chat;
  // The request's fields a Response object repeats (instructions, max_output_tokens,
  // temperature, top_p, tools, tool_choice, parallel_tool_calls, text, reasoning, ...), in the
  // Responses shapes, defaults filled in.
  nlohmann::ordered_json echo;
};

ApiResult<ResponsesRequest> parse_responses_request(std::string_view body);

// Internal to the parser (responses_options.cpp): the generation options, reasoning, text and
// echo-only fields; tools, tool_choice and parallel_tool_calls.
namespace responses_detail {
std::optional<ApiError> read_options(const nlohmann::ordered_json& body, ResponsesRequest& out);
std::optional<ApiError> read_tools(const nlohmann::ordered_json& body, ResponsesRequest& out);
}  // namespace responses_detail

}  // namespace mx
