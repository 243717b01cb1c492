// Internal to the OpenAI request parsers: the readers each part of a body goes through.
// openai_request.cpp holds the shared generation fields and the completions endpoint;
// chat_request.cpp the chat messages, tools and tool_choice.
#pragma once

#include "server/json_fields.h"
#include "server/openai_request.h"

namespace mx::openai_detail {

using json_fields::Check;
using json_fields::Json;

// model, stream, stream_options, n, stop, max_tokens / max_completion_tokens, ignore_eos,
// temperature, top_p, top_k, min_p, seed, the penalties and logit_bias.
Check read_generation_fields(const Json& body, GenerationRequest& out);
// temperature, top_p, top_k, min_p, seed, the penalties and logit_bias (also /v1/responses).
Check read_sampling_fields(const Json& body, SamplingParams& out);
// response_format: {type: "text"} or absent; anything else is unsupported.
Check read_response_format(const Json& body);

// messages: validated, normalized copy into `out` (an array).
Check read_chat_messages(const Json& body, Json& out);
// tools, tool_choice, parallel_tool_calls.
Check read_chat_tools(const Json& body, ChatCompletionRequest& out);

}  // namespace mx::openai_detail
