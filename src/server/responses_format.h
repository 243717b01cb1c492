// The /v1/responses wire format (a CallFormat, server/call_format.h): the OpenAI Responses API's
// Response object and its event stream, shaped as the `openai` SDK's types
// (resources/responses/responses.d.ts) and its ResponseStream helper expect.
//
// Response {id "resp_…", object "response", created_at, status, error, incomplete_details,
//   model, output[items], the request's echoed fields (instructions, max_output_tokens,
//   temperature, top_p, tools, tool_choice, parallel_tool_calls, text, reasoning, store,
//   metadata, …), usage {input_tokens, input_tokens_details.cached_tokens, output_tokens,
//   output_tokens_details.reasoning_tokens, total_tokens}}.
// Output items, in the order the model wrote them:
//   reasoning      {type, id "rs_…", summary [], content [{type "reasoning_text", text}], status}
//                  — the <think> text, when the model wrote some
//   message        {type, id "msg_…", role "assistant", status, content [{type "output_text",
//                  text, annotations [], logprobs []}]} — present unless the output is only
//                  function calls
//   function_call  {type, id "fc_…", call_id "call_…", name, arguments (JSON text), status}
// status is "completed", or "incomplete" with incomplete_details {reason "max_output_tokens"}
// when the length limit cut the output.
//
// Streaming: every event is "event: <type>\ndata: {type, …, sequence_number}\n\n", numbered from
// 0: response.created and response.in_progress (the Response with status "in_progress", no
// output yet); per item output_item.added, then for text items content_part.added, the deltas
// (response.reasoning_text.delta / response.output_text.delta; a function call's arguments as
// one response.function_call_arguments.delta), the .done events and output_item.done; finally
// response.completed or response.incomplete with the whole Response. A failure sends an "error"
// event and response.failed. No "[DONE]" (the OpenAI API sends none).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "server/call_format.h"

namespace mx {

// The Response object. `echo`: the request's fields a Response repeats (built by
// parse_responses_request), appended after `output`. `usage`: null while in progress.
nlohmann::ordered_json response_object_json(const ResponseMeta& meta,
                                            const nlohmann::ordered_json& echo,
                                            std::string_view status, nlohmann::ordered_json output,
                                            const Usage* usage);

// {input_tokens, input_tokens_details {cached_tokens}, output_tokens, output_tokens_details
// {reasoning_tokens}, total_tokens}.
nlohmann::ordered_json responses_usage_json(const Usage& usage);

// The format of one /v1/responses call (one choice: the Responses API has no n).
std::unique_ptr<CallFormat> make_responses_format(std::string model, nlohmann::ordered_json echo);

}  // namespace mx
