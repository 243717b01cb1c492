#include "server/openai_response.h"

#include <algorithm>
#include <random>

#include "tokenizer/utf8.h"

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

// -inf (a token the sampler ruled out) has no JSON form; clients expect a number. vLLM clamps
// to -9999 as well.
double finite_logprob(float logprob) { return std::max(static_cast<double>(logprob), -9999.0); }

Json byte_values(std::string_view text) {
  Json bytes = Json::array();
  for (char c : text) bytes.push_back(static_cast<uint8_t>(c));
  return bytes;
}

Json chat_token_json(std::string_view text, float logprob) {
  return Json{{"token", utf8_lossy(text)},
              {"logprob", finite_logprob(logprob)},
              {"bytes", byte_values(text)}};
}

int64_t count_code_points(std::string_view text) {
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<uint8_t>(c) & 0xC0) != 0x80; });
}

Json base_object(const ResponseMeta& meta, std::string_view object) {
  Json json = {
      {"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
  if (!meta.system_fingerprint.empty()) json["system_fingerprint"] = meta.system_fingerprint;
  return json;
}

Json nullable(const std::optional<Json>& value) { return value ? *value : Json(nullptr); }

Json finish_reason_json(const std::optional<FinishReason>& reason) {
  return reason ? Json(finish_reason_name(*reason)) : Json(nullptr);
}

Json tool_call_json(const ToolCall& call) {
  return Json{{"id", call.id},
              {"type", "function"},
              {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
}

// A tool call's streaming delta: the first one of a call names it, later ones add arguments.
Json tool_call_delta_json(const ToolCallDelta& delta) {
  Json json = {{"index", delta.index}};
  Json function = Json::object();
  if (!delta.id.empty()) {
    json["id"] = delta.id;
    json["type"] = "function";
  }
  if (!delta.name.empty()) function["name"] = delta.name;
  function["arguments"] = delta.arguments;
  json["function"] = std::move(function);
  return json;
}

Json chat_message_json(const ChatChoice& choice) {
  Json message = {{"role", "assistant"}};
  const bool null_content = choice.content.empty() && !choice.tool_calls.empty();
  message["content"] = null_content ? Json(nullptr) : Json(choice.content);
  if (!choice.reasoning_content.empty()) message["reasoning_content"] = choice.reasoning_content;
  if (!choice.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCall& call : choice.tool_calls) calls.push_back(tool_call_json(call));
    message["tool_calls"] = std::move(calls);
  }
  message["refusal"] = nullptr;
  return message;
}

}  // namespace

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kToolCalls:
      return "tool_calls";
    case FinishReason::kContentFilter:
      return "content_filter";
  }
  return "stop";
}

Json usage_json(const Usage& usage) {
  return Json{{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
              {"completion_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}}};
}

std::string random_response_id(std::string_view prefix) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id(prefix);
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(rng)];
  return id;
}

Json chat_logprobs_json(std::span<const TokenLogprobs> tokens) {
  Json content = Json::array();
  for (const TokenLogprobs& token : tokens) {
    Json entry = chat_token_json(token.text, token.logprob);
    Json top = Json::array();
    for (const LogprobAlternative& alt : token.top)
      top.push_back(chat_token_json(alt.text, alt.logprob));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return Json{{"content", std::move(content)}, {"refusal", nullptr}};
}

Json completion_logprobs_json(std::span<const TokenLogprobs> tokens, int64_t text_offset_start) {
  Json texts = Json::array(), logprobs = Json::array(), tops = Json::array(),
       offsets = Json::array();
  int64_t offset = text_offset_start;
  for (const TokenLogprobs& token : tokens) {
    const std::string text = utf8_lossy(token.text);
    texts.push_back(text);
    logprobs.push_back(finite_logprob(token.logprob));
    if (token.top.empty()) {
      tops.push_back(nullptr);
    } else {
      Json top = Json::object();
      for (const LogprobAlternative& alt : token.top) {
        top[utf8_lossy(alt.text)] = finite_logprob(alt.logprob);
      }
      tops.push_back(std::move(top));
    }
    offsets.push_back(offset);
    offset += count_code_points(text);
  }
  return Json{{"tokens", std::move(texts)},
              {"token_logprobs", std::move(logprobs)},
              {"top_logprobs", std::move(tops)},
              {"text_offset", std::move(offsets)}};
}

Json chat_completion_json(const ResponseMeta& meta, std::span<const ChatChoice> choices,
                          const Usage& usage) {
  Json json = base_object(meta, "chat.completion");
  Json list = Json::array();
  for (const ChatChoice& choice : choices) {
    list.push_back(Json{{"index", choice.index},
                        {"message", chat_message_json(choice)},
                        {"logprobs", nullable(choice.logprobs)},
                        {"finish_reason", finish_reason_name(choice.finish_reason)}});
  }
  json["choices"] = std::move(list);
  json["usage"] = usage_json(usage);
  return json;
}

Json chat_chunk_json(const ResponseMeta& meta, const ChatDelta& delta, bool include_usage) {
  Json json = base_object(meta, "chat.completion.chunk");
  Json body = Json::object();
  if (delta.role) body["role"] = "assistant";
  if (delta.role || !delta.content.empty()) body["content"] = delta.content;
  if (!delta.reasoning_content.empty()) body["reasoning_content"] = delta.reasoning_content;
  if (!delta.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCallDelta& call : delta.tool_calls) calls.push_back(tool_call_delta_json(call));
    body["tool_calls"] = std::move(calls);
  }
  json["choices"] = Json::array({Json{{"index", delta.index},
                                      {"delta", std::move(body)},
                                      {"logprobs", nullable(delta.logprobs)},
                                      {"finish_reason", finish_reason_json(delta.finish_reason)}}});
  if (include_usage) json["usage"] = nullptr;
  return json;
}

Json chat_usage_chunk_json(const ResponseMeta& meta, const Usage& usage) {
  Json json = base_object(meta, "chat.completion.chunk");
  json["choices"] = Json::array();
  json["usage"] = usage_json(usage);
  return json;
}

namespace {

Json completion_choice_json(const CompletionChoice& choice) {
  return Json{{"index", choice.index},
              {"text", choice.text},
              {"logprobs", nullable(choice.logprobs)},
              {"finish_reason", finish_reason_json(choice.finish_reason)}};
}

}  // namespace

Json completion_json(const ResponseMeta& meta, std::span<const CompletionChoice> choices,
                     const Usage& usage) {
  Json json = base_object(meta, "text_completion");
  Json list = Json::array();
  for (const CompletionChoice& choice : choices) list.push_back(completion_choice_json(choice));
  json["choices"] = std::move(list);
  json["usage"] = usage_json(usage);
  return json;
}

Json completion_chunk_json(const ResponseMeta& meta, const CompletionChoice& choice,
                           bool include_usage) {
  Json json = base_object(meta, "text_completion");
  json["choices"] = Json::array({completion_choice_json(choice)});
  if (include_usage) json["usage"] = nullptr;
  return json;
}

Json completion_usage_chunk_json(const ResponseMeta& meta, const Usage& usage) {
  Json json = base_object(meta, "text_completion");
  json["choices"] = Json::array();
  json["usage"] = usage_json(usage);
  return json;
}

std::string response_body(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string sse_event(const Json& json) { return "data: " + response_body(json) + "\n\n"; }

}  // namespace mx
