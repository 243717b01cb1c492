#include "server/openai_response.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

const ResponseMeta kMeta{"chatcmpl-1", 1700000000, "qwen3", ""};

// Compares serialized text, so key order and every value count.
void expect_json(const Json& actual, const std::string& expected) {
  EXPECT_EQ(response_body(actual), response_body(Json::parse(expected)));
}

TEST(OpenAiResponse, Usage) {
  expect_json(usage_json(Usage{10, 5, 4, 3}), R"({"prompt_tokens": 10, "completion_tokens": 5,
      "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 4},
      "completion_tokens_details": {"reasoning_tokens": 3}})");
}

TEST(OpenAiResponse, ChatCompletion) {
  ChatChoice text;
  text.content = "Hello!";
  text.reasoning_content = "greet";
  ChatChoice tools;
  tools.index = 1;
  tools.tool_calls = {{"call_a", "get_weather", R"({"city":"Paris"})"}};
  tools.finish_reason = FinishReason::kToolCalls;
  const std::vector<ChatChoice> choices = {text, tools};
  ResponseMeta meta = kMeta;
  meta.system_fingerprint = "fp_1";
  expect_json(chat_completion_json(meta, choices, Usage{3, 2, 0, 1}), R"({
      "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "qwen3",
      "system_fingerprint": "fp_1",
      "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello!",
          "reasoning_content": "greet", "refusal": null},
         "logprobs": null, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": null, "tool_calls": [
           {"id": "call_a", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
          "refusal": null},
         "logprobs": null, "finish_reason": "tool_calls"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1}}})");
}

TEST(OpenAiResponse, ChatCompletionEmptyContentWithoutToolsIsAString) {
  const std::vector<ChatChoice> choices = {ChatChoice{}};
  Json json = chat_completion_json(kMeta, choices, Usage{});
  EXPECT_EQ(json["choices"][0]["message"]["content"], "");
  EXPECT_EQ(json["choices"][0]["finish_reason"], "stop");
}

TEST(OpenAiResponse, ChatChunks) {
  ChatDelta role;
  role.role = true;
  expect_json(chat_chunk_json(kMeta, role, false), R"({"id": "chatcmpl-1",
      "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen3", "choices": [
      {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null,
       "finish_reason": null}]})");

  ChatDelta reasoning;
  reasoning.index = 2;
  reasoning.reasoning_content = "hm";
  expect_json(chat_chunk_json(kMeta, reasoning, true), R"({"id": "chatcmpl-1",
      "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen3", "choices": [
      {"index": 2, "delta": {"reasoning_content": "hm"}, "logprobs": null,
       "finish_reason": null}], "usage": null})");

  ChatDelta calls;
  calls.tool_calls = {{0, "call_a", "f", "{}"}, {1, "", "", "{\"x\""}};
  expect_json(chat_chunk_json(kMeta, calls, false), R"({"id": "chatcmpl-1",
      "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen3", "choices": [
      {"index": 0, "delta": {"tool_calls": [
         {"index": 0, "id": "call_a", "type": "function",
          "function": {"name": "f", "arguments": "{}"}},
         {"index": 1, "function": {"arguments": "{\"x\""}}]},
       "logprobs": null, "finish_reason": null}]})");

  ChatDelta finish;
  finish.content = "!";
  finish.finish_reason = FinishReason::kLength;
  finish.logprobs = Json{{"content", Json::array()}, {"refusal", nullptr}};
  expect_json(chat_chunk_json(kMeta, finish, false), R"({"id": "chatcmpl-1",
      "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen3", "choices": [
      {"index": 0, "delta": {"content": "!"}, "logprobs": {"content": [], "refusal": null},
       "finish_reason": "length"}]})");

  expect_json(chat_usage_chunk_json(kMeta, Usage{1, 2, 0, 0}), R"({"id": "chatcmpl-1",
      "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen3", "choices": [],
      "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0}}})");
}

TEST(OpenAiResponse, ChatLogprobs) {
  // "é" cut in two tokens: each token string is valid UTF-8 (U+FFFD), bytes keep the truth.
  const std::vector<TokenLogprobs> tokens = {
      {"Hi", -0.25f, {{"Hi", -0.25f}, {"Hello", -1.5f}}},
      {"\xC3", -0.5f, {}},
      {"\xA9", -std::numeric_limits<float>::infinity(), {}},
  };
  expect_json(chat_logprobs_json(tokens), R"({"content": [
      {"token": "Hi", "logprob": -0.25, "bytes": [72, 105], "top_logprobs": [
        {"token": "Hi", "logprob": -0.25, "bytes": [72, 105]},
        {"token": "Hello", "logprob": -1.5, "bytes": [72, 101, 108, 108, 111]}]},
      {"token": "\ufffd", "logprob": -0.5, "bytes": [195], "top_logprobs": []},
      {"token": "\ufffd", "logprob": -9999.0, "bytes": [169], "top_logprobs": []}],
      "refusal": null})");
}

TEST(OpenAiResponse, CompletionLogprobs) {
  const std::vector<TokenLogprobs> tokens = {
      {"☃", -0.5f, {{"☃", -0.5f}, {"x", -2.0f}}},
      {" ok", -1.0f, {}},
  };
  expect_json(completion_logprobs_json(tokens, 7), R"({"tokens": ["☃", " ok"],
      "token_logprobs": [-0.5, -1.0], "top_logprobs": [{"☃": -0.5, "x": -2.0}, null],
      "text_offset": [7, 8]})");
}

TEST(OpenAiResponse, TextCompletionAndChunks) {
  const ResponseMeta meta{"cmpl-1", 5, "llama", ""};
  const std::vector<CompletionChoice> choices = {{0, " there", FinishReason::kLength, {}}};
  expect_json(completion_json(meta, choices, Usage{2, 1, 0, 0}), R"({"id": "cmpl-1",
      "object": "text_completion", "created": 5, "model": "llama", "choices": [
      {"index": 0, "text": " there", "logprobs": null, "finish_reason": "length"}],
      "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0}}})");
  expect_json(completion_chunk_json(meta, CompletionChoice{1, "a", std::nullopt, {}}, true),
              R"({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "llama",
      "choices": [{"index": 1, "text": "a", "logprobs": null, "finish_reason": null}],
      "usage": null})");
  expect_json(completion_usage_chunk_json(meta, Usage{2, 1, 1, 0}), R"({"id": "cmpl-1",
      "object": "text_completion", "created": 5, "model": "llama", "choices": [],
      "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 0}}})");
}

TEST(OpenAiResponse, SseFramingAndInvalidUtf8) {
  EXPECT_EQ(sse_event(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  // A cut character never makes serialization throw.
  EXPECT_EQ(response_body(Json{{"t", "a\xC3"}}), "{\"t\":\"a\xEF\xBF\xBD\"}");
  EXPECT_STREQ(finish_reason_name(FinishReason::kContentFilter), "content_filter");
}

TEST(OpenAiResponse, RandomIds) {
  const std::string a = random_response_id("chatcmpl-");
  EXPECT_EQ(a.size(), 9u + 24u);
  EXPECT_EQ(a.substr(0, 9), "chatcmpl-");
  EXPECT_NE(a, random_response_id("chatcmpl-"));
}

}  // namespace
}  // namespace mx
