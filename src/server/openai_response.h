// OpenAI response bodies: builders of the JSON that /v1/chat/completions and /v1/completions
// answer with, streaming or not, and the SSE framing. Pure functions, no I/O.
//
// Shapes follow the OpenAI API reference (and the `openai` SDK types):
//   chat.completion        {id, object, created, model, choices[{index, message{role, content,
//                          reasoning_content?, tool_calls?, refusal}, logprobs, finish_reason}],
//                          usage}
//   chat.completion.chunk  {id, object, created, model, choices[{index, delta, logprobs,
//                          finish_reason}], usage?}: role delta first, then content /
//                          reasoning_content / tool_calls deltas, then finish_reason; with
//                          stream_options.include_usage every chunk has "usage": null and a last
//                          chunk has "choices": [] and the usage.
//   text_completion        {id, object, created, model, choices[{index, text, logprobs,
//                          finish_reason}], usage} (chunks: the same object name).
// reasoning_content is the vLLM / DeepSeek extension for <think> text. Logprobs come in the chat
// form {content[{token, logprob, bytes, top_logprobs[...]}]} and the legacy completions form
// {tokens, token_logprobs, top_logprobs, text_offset}. Bodies are serialized with invalid UTF-8
// replaced (U+FFFD), so a cut character can never make serialization throw.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_call_parser.h"

namespace mx {

enum class FinishReason { kStop, kLength, kToolCalls, kContentFilter };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "tool_calls", ...

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;     // prompt tokens whose KV came from the prefix cache
  int64_t reasoning_tokens = 0;  // completion tokens inside <think>…</think>
};
nlohmann::ordered_json usage_json(const Usage& usage);

struct ResponseMeta {
  std::string id;       // "chatcmpl-…" / "cmpl-…" (random_response_id)
  int64_t created = 0;  // Unix seconds
  std::string model;
  std::string system_fingerprint;  // left out when empty
};

// prefix + 24 random letters and digits: random_response_id("chatcmpl-").
std::string random_response_id(std::string_view prefix);

// One generated token for logprobs: the raw bytes of its text (possibly part of a UTF-8
// character), its logprob, and the most likely alternatives (best first).
struct LogprobAlternative {
  std::string text;
  float logprob = 0.0f;
};
struct TokenLogprobs {
  std::string text;
  float logprob = 0.0f;
  std::vector<LogprobAlternative> top;
};

// {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}], "refusal": null}
nlohmann::ordered_json chat_logprobs_json(std::span<const TokenLogprobs> tokens);
// {tokens, token_logprobs, top_logprobs: [{text: logprob} | null], text_offset}; offsets count
// characters (code points, as Python clients index strings) from `text_offset_start`.
nlohmann::ordered_json completion_logprobs_json(std::span<const TokenLogprobs> tokens,
                                                int64_t text_offset_start = 0);

struct ChatChoice {
  int32_t index = 0;
  std::string content;            // null in the message when empty and tool calls exist
  std::string reasoning_content;  // left out when empty
  std::vector<ToolCall> tool_calls;
  FinishReason finish_reason = FinishReason::kStop;
  std::optional<nlohmann::ordered_json> logprobs;  // chat_logprobs_json; null when unset
};
nlohmann::ordered_json chat_completion_json(const ResponseMeta& meta,
                                            std::span<const ChatChoice> choices,
                                            const Usage& usage);

// One choice's part of a chat.completion.chunk.
struct ChatDelta {
  int32_t index = 0;
  bool role = false;  // the first chunk of a choice: {"role": "assistant", "content": ""}
  std::string content;
  std::string reasoning_content;
  std::vector<ToolCallDelta> tool_calls;
  std::optional<FinishReason> finish_reason;
  std::optional<nlohmann::ordered_json> logprobs;
};
// `include_usage`: add "usage": null (stream_options.include_usage).
nlohmann::ordered_json chat_chunk_json(const ResponseMeta& meta, const ChatDelta& delta,
                                       bool include_usage);
// The last chunk with include_usage: "choices": [] and the usage.
nlohmann::ordered_json chat_usage_chunk_json(const ResponseMeta& meta, const Usage& usage);

struct CompletionChoice {
  int32_t index = 0;
  std::string text;
  std::optional<FinishReason> finish_reason;       // unset in chunks before the last
  std::optional<nlohmann::ordered_json> logprobs;  // completion_logprobs_json
};
nlohmann::ordered_json completion_json(const ResponseMeta& meta,
                                       std::span<const CompletionChoice> choices,
                                       const Usage& usage);
nlohmann::ordered_json completion_chunk_json(const ResponseMeta& meta,
                                             const CompletionChoice& choice, bool include_usage);
nlohmann::ordered_json completion_usage_chunk_json(const ResponseMeta& meta, const Usage& usage);

// The body text of a response (compact JSON, invalid UTF-8 replaced).
std::string response_body(const nlohmann::ordered_json& json);
// One server-sent event: "data: " + json + "\n\n".
std::string sse_event(const nlohmann::ordered_json& json);
// The event that ends a stream.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace mx
