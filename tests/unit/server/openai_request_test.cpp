#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

std::string chat_body(const std::string& extra_fields) {
  std::string body = R"({"model": "m", "messages": [{"role": "user", "content": "Hi"}])";
  if (!extra_fields.empty()) body += ", " + extra_fields;
  return body + "}";
}

std::string completion_body(const std::string& extra_fields) {
  std::string body = R"({"model": "m", "prompt": "Once")";
  if (!extra_fields.empty()) body += ", " + extra_fields;
  return body + "}";
}

struct ErrorCase {
  std::string body;
  std::string param;
  std::string message;
};

void expect_chat_error(const ErrorCase& c) {
  ApiResult<ChatCompletionRequest> result = parse_chat_completion_request(c.body);
  ASSERT_FALSE(result.ok()) << c.body;
  EXPECT_EQ(result.error().http_status, 400) << c.body;
  EXPECT_EQ(result.error().type, "invalid_request_error") << c.body;
  EXPECT_EQ(result.error().param, c.param) << c.body;
  EXPECT_EQ(result.error().message, c.message) << c.body;
}

void expect_completion_error(const ErrorCase& c) {
  ApiResult<CompletionRequest> result = parse_completion_request(c.body);
  ASSERT_FALSE(result.ok()) << c.body;
  EXPECT_EQ(result.error().http_status, 400) << c.body;
  EXPECT_EQ(result.error().param, c.param) << c.body;
  EXPECT_EQ(result.error().message, c.message) << c.body;
}

TEST(OpenAiRequest, MinimalChatHasDefaults) {
  ApiResult<ChatCompletionRequest> r = parse_chat_completion_request(chat_body(""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const GenerationRequest& g = r->generation;
  EXPECT_EQ(g.model, "m");
  EXPECT_FALSE(g.stream);
  EXPECT_FALSE(g.include_usage);
  EXPECT_EQ(g.n, 1);
  EXPECT_TRUE(g.stop.empty());
  EXPECT_FALSE(g.max_tokens.has_value());
  EXPECT_FALSE(g.ignore_eos);
  EXPECT_EQ(g.sampling.temperature, 1.0f);
  EXPECT_EQ(g.sampling.top_p, 1.0f);
  EXPECT_EQ(g.sampling.top_k, 0);
  EXPECT_FALSE(g.sampling.seed.has_value());
  EXPECT_FALSE(g.sampling.logprobs);
  EXPECT_EQ(r->messages, Json::parse(R"([{"role": "user", "content": "Hi"}])"));
  EXPECT_TRUE(r->tools.is_null());
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::kNone);
  EXPECT_TRUE(r->parallel_tool_calls);
  EXPECT_EQ(r->chat_template_kwargs, Json::object());
}

TEST(OpenAiRequest, ChatFieldsMapIntoGenerationAndSampling) {
  ApiResult<ChatCompletionRequest> r = parse_chat_completion_request(chat_body(R"(
      "stream": true, "stream_options": {"include_usage": true}, "n": 3,
      "stop": ["END", "\n\n"], "max_tokens": 10, "max_completion_tokens": 20,
      "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": -1,
      "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1,
      "logit_bias": {"42": -100, "7": 2.5}, "logprobs": true, "top_logprobs": 5,
      "ignore_eos": true, "user": "u1", "unknown_extra": {"x": 1},
      "chat_template_kwargs": {"enable_thinking": false}, "response_format": {"type": "text"},
      "parallel_tool_calls": false)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const GenerationRequest& g = r->generation;
  EXPECT_TRUE(g.stream);
  EXPECT_TRUE(g.include_usage);
  EXPECT_EQ(g.n, 3);
  EXPECT_EQ(g.stop, (std::vector<std::string>{"END", "\n\n"}));
  EXPECT_EQ(g.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_TRUE(g.ignore_eos);
  const SamplingParams& s = g.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.5f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.seed, std::optional<uint64_t>(UINT64_MAX));  // -1 wraps
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_EQ(s.logit_bias, (std::vector<std::pair<int32_t, float>>{{42, -100.0f}, {7, 2.5f}}));
  EXPECT_TRUE(s.logprobs);
  EXPECT_EQ(s.top_logprobs, 5);
  EXPECT_EQ(r->chat_template_kwargs, Json::parse(R"({"enable_thinking": false})"));
  EXPECT_FALSE(r->parallel_tool_calls);
}

TEST(OpenAiRequest, NullMeansNotGivenAndOneFieldAlone) {
  ApiResult<ChatCompletionRequest> r = parse_chat_completion_request(chat_body(
      R"("stop": null, "max_tokens": null, "temperature": null, "seed": null, "tools": null,
         "tool_choice": null, "logit_bias": null, "stream_options": null, "top_k": -1,
         "max_tokens": 7, "stop": "x")"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->generation.max_tokens, 7);
  EXPECT_EQ(r->generation.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r->generation.sampling.temperature, 1.0f);
  EXPECT_EQ(r->generation.sampling.top_k, 0);  // -1 = off
  EXPECT_TRUE(r->tools.is_null());
}

TEST(OpenAiRequest, MessagesAreNormalizedForTheTemplate) {
  ApiResult<ChatCompletionRequest> r = parse_chat_completion_request(R"({"messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
       "name": "ann"},
      {"role": "assistant", "reasoning_content": "hm", "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "f", "arguments": "{\"z\": 1, \"a\": [2]}"}},
        {"id": "c2", "type": "function", "function": {"name": "g", "arguments": ""}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "ok"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->generation.model, "");
  EXPECT_EQ(r->messages.dump(), Json::parse(R"([
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": "a\nb", "name": "ann"},
      {"role": "assistant", "reasoning_content": "hm", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": [2]}}},
        {"id": "c2", "type": "function", "function": {"name": "g", "arguments": {}}}],
       "content": null},
      {"role": "tool", "tool_call_id": "c1", "content": "ok"}])")
                                    .dump());
}

TEST(OpenAiRequest, ToolsAndToolChoice) {
  const std::string tools = R"("tools": [{"type": "function", "function": {"name": "get_weather",
      "description": "d", "parameters": {"type": "object", "properties": {}}}}])";
  ApiResult<ChatCompletionRequest> r = parse_chat_completion_request(chat_body(tools));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::kAuto);
  EXPECT_EQ(r->tools.dump(), Json::parse(tools.substr(9)).dump());
  EXPECT_EQ(r->template_input().dump(),
            Json::parse(R"({"messages": [{"role": "user", "content": "Hi"}], "tools": )" +
                        tools.substr(9) +
                        R"(, "add_generation_prompt": true, "chat_template_kwargs": {}})")
                .dump());

  r = parse_chat_completion_request(chat_body(tools + R"(, "tool_choice": "required")"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::kRequired);
  r = parse_chat_completion_request(chat_body(tools + R"(, "tool_choice": "none")"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::kNone);
  r = parse_chat_completion_request(chat_body(
      tools + R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::kFunction);
  EXPECT_EQ(r->tool_choice.function_name, "get_weather");
  r = parse_chat_completion_request(chat_body(R"("tool_choice": "auto")"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceMode::kNone);  // auto without tools
}

TEST(OpenAiRequest, MalformedJsonSaysWhere) {
  expect_chat_error({R"({"messages": [}")", "",
                     "request body is not valid JSON: parse error at line 1, column 15: syntax "
                     "error while parsing value - unexpected '}'; expected '[', '{', or a "
                     "literal (byte 15)"});
  expect_chat_error({"[1]", "", "request body must be a JSON object, got an array"});
  expect_chat_error({chat_body(R"("temperature": 1e400)"), "",
                     "request body is not valid JSON: number overflow parsing '1e400'"});
  expect_chat_error(
      {std::string(200, '['), "", "request body nests arrays/objects deeper than 128 levels"});
}

TEST(OpenAiRequest, GenerationFieldErrors) {
  const ErrorCase cases[] = {
      {chat_body(R"("temperature": 3.5)"), "temperature",
       "temperature must be between 0 and 2, got 3.5"},
      {chat_body(R"("temperature": -1)"), "temperature",
       "temperature must be between 0 and 2, got -1"},
      {chat_body(R"("temperature": "hot")"), "temperature",
       "temperature must be a number, got a string"},
      {chat_body(R"("top_p": 0)"), "top_p", "top_p must be greater than 0 and at most 1, got 0"},
      {chat_body(R"("top_p": 1.5)"), "top_p",
       "top_p must be greater than 0 and at most 1, got 1.5"},
      {chat_body(R"("top_k": -2)"), "top_k",
       "top_k must be -1 or 0 (both: off) or a positive integer, got -2"},
      {chat_body(R"("top_k": 2.5)"), "top_k", "top_k must be an integer, got a number (2.5)"},
      {chat_body(R"("min_p": 1.01)"), "min_p", "min_p must be between 0 and 1, got 1.01"},
      {chat_body(R"("presence_penalty": 2.5)"), "presence_penalty",
       "presence_penalty must be between -2 and 2, got 2.5"},
      {chat_body(R"("frequency_penalty": -3)"), "frequency_penalty",
       "frequency_penalty must be between -2 and 2, got -3"},
      {chat_body(R"("repetition_penalty": 0)"), "repetition_penalty",
       "repetition_penalty must be greater than 0 and at most 2, got 0"},
      {chat_body(R"("repetition_penalty": 2.1)"), "repetition_penalty",
       "repetition_penalty must be greater than 0 and at most 2, got 2.1"},
      {chat_body(R"("seed": 1.5)"), "seed", "seed must be an integer, got a number (1.5)"},
      {chat_body(R"("seed": "1")"), "seed", "seed must be an integer, got a string"},
      {chat_body(R"("n": 0)"), "n", "n must be between 1 and 16, got 0"},
      {chat_body(R"("n": 17)"), "n", "n must be between 1 and 16, got 17"},
      {chat_body(R"("n": 2.0)"), "n", "n must be an integer, got a number (2.0)"},
      {chat_body(R"("max_tokens": 0)"), "max_tokens", "max_tokens must be at least 1, got 0"},
      {chat_body(R"("max_tokens": 3000000000)"), "max_tokens",
       "max_tokens must be between 1 and 2147483647, got 3000000000"},
      {chat_body(R"("max_completion_tokens": -5)"), "max_completion_tokens",
       "max_completion_tokens must be at least 1, got -5"},
      {chat_body(R"("stream": "yes")"), "stream",
       "stream must be a boolean (true or false), got a string"},
      {chat_body(R"("stream_options": true)"), "stream_options",
       "stream_options must be an object, got a boolean"},
      {chat_body(R"("stream_options": {"include_usage": 1})"), "stream_options.include_usage",
       "stream_options.include_usage must be a boolean (true or false), got an integer (1)"},
      {chat_body(R"("ignore_eos": 1)"), "ignore_eos",
       "ignore_eos must be a boolean (true or false), got an integer (1)"},
      {chat_body(R"("model": 5)"), "model", "model must be a string, got an integer (5)"},
      {chat_body(R"("stop": "")"), "stop",
       "stop must be a non-empty string or an array of up to 4 non-empty strings, got an empty "
       "string"},
      {chat_body(R"("stop": ["a", "b", "c", "d", "e"])"), "stop",
       "stop may hold at most 4 strings, got 5"},
      {chat_body(R"("stop": ["a", ""])"), "stop[1]", "stop[1] must not be empty"},
      {chat_body(R"("stop": ["a", 3])"), "stop[1]", "stop[1] must be a string, got an integer (3)"},
      {chat_body(R"("stop": 3)"), "stop",
       "stop must be a string or an array of strings, got an integer (3)"},
      {chat_body(R"("logit_bias": [1])"), "logit_bias",
       "logit_bias must be an object of token id → bias, got an array"},
      {chat_body(R"("logit_bias": {"abc": 1})"), "logit_bias",
       "logit_bias keys must be token ids (non-negative integers as strings), got \"abc\""},
      {chat_body(R"("logit_bias": {"-3": 1})"), "logit_bias",
       "logit_bias keys must be token ids (non-negative integers as strings), got \"-3\""},
      {chat_body(R"("logit_bias": {"5": 101})"), "logit_bias.\"5\"",
       "logit_bias.\"5\" must be between -100 and 100, got 101"},
      {chat_body(R"("logit_bias": {"5": "x"})"), "logit_bias.\"5\"",
       "logit_bias.\"5\" must be a number, got a string"},
      {chat_body(R"("response_format": {"type": "json_object"})"), "response_format",
       "response_format type \"json_object\" is unsupported: mxserve has no constrained "
       "decoding; only {\"type\": \"text\"} is accepted"},
      {chat_body(R"("response_format": "text")"), "response_format",
       "response_format must be an object, got a string"},
  };
  for (const ErrorCase& c : cases) expect_chat_error(c);
}

TEST(OpenAiRequest, ChatLogprobsErrors) {
  expect_chat_error({chat_body(R"("logprobs": 1)"), "logprobs",
                     "logprobs must be a boolean (true or false), got an integer (1)"});
  expect_chat_error({chat_body(R"("top_logprobs": 3)"), "top_logprobs",
                     "top_logprobs requires logprobs to be true"});
  expect_chat_error({chat_body(R"("logprobs": true, "top_logprobs": 21)"), "top_logprobs",
                     "top_logprobs must be between 0 and 20, got 21"});
  expect_chat_error({chat_body(R"("chat_template_kwargs": [])"), "chat_template_kwargs",
                     "chat_template_kwargs must be an object, got an array"});
}

TEST(OpenAiRequest, MessageErrors) {
  const ErrorCase cases[] = {
      {R"({"model": "m"})", "messages",
       "messages is required: a non-empty array of {\"role\", \"content\"} objects"},
      {R"({"messages": {}})", "messages", "messages must be an array, got an object"},
      {R"({"messages": []})", "messages", "messages must not be empty"},
      {R"({"messages": ["hi"]})", "messages[0]",
       "messages[0] must be an object {\"role\", \"content\"}, got a string"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role",
       "messages[0].role must be one of system, developer, user, assistant, tool, got none"},
      {R"({"messages": [{"role": "bot", "content": "x"}]})", "messages[0].role",
       "messages[0].role must be one of system, developer, user, assistant, tool, got \"bot\""},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content",
       "messages[0].content is required: a string or an array of text parts"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content",
       "messages[0].content must be a string or an array of text parts, got an integer (5)"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url",
          "image_url": {"url": "x"}}]}]})",
       "messages[0].content[0].type",
       "messages[0].content[0].type \"image_url\" is not supported: mxserve serves text-only "
       "models; send {\"type\": \"text\", \"text\": ...} parts"},
      {R"({"messages": [{"role": "user", "content": [{"text": "a"}]}]})",
       "messages[0].content[0].type", "messages[0].content[0].type must be \"text\""},
      {R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})",
       "messages[0].content[0].text", "messages[0].content[0].text must be a string"},
      {R"({"messages": [{"role": "user", "content": ["a"]}]})", "messages[0].content[0]",
       "messages[0].content[0] must be an object, got a string"},
      {R"({"messages": [{"role": "user", "content": "a", "name": 1}]})", "messages[0].name",
       "messages[0].name must be a string, got an integer (1)"},
      {R"({"messages": [{"role": "tool", "content": "a", "tool_call_id": 1}]})",
       "messages[0].tool_call_id", "messages[0].tool_call_id must be a string, got an integer (1)"},
      {R"({"messages": [{"role": "assistant", "content": "a", "reasoning_content": []}]})",
       "messages[0].reasoning_content",
       "messages[0].reasoning_content must be a string, got an array"},
      {R"({"messages": [{"role": "user", "content": "a", "tool_calls": []}]})",
       "messages[0].tool_calls", "messages[0].tool_calls is only allowed in assistant messages"},
      {R"({"messages": [{"role": "assistant", "tool_calls": {}}]})", "messages[0].tool_calls",
       "messages[0].tool_calls must be an array, got an object"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"type": "x",
          "function": {"name": "f"}}]}]})",
       "messages[0].tool_calls[0].type",
       "messages[0].tool_calls[0].type must be \"function\", got \"x\""},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]})",
       "messages[0].tool_calls[0].function",
       "messages[0].tool_calls[0].function must be an object {\"name\": ..., \"arguments\": "
       "...}"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": ""}}]}]})",
       "messages[0].tool_calls[0].function.name",
       "messages[0].tool_calls[0].function.name must be a non-empty string"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f",
          "arguments": "{oops"}}]}]})",
       "messages[0].tool_calls[0].function.arguments",
       "messages[0].tool_calls[0].function.arguments must be a string holding a JSON object, "
       "got \"{oops\""},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f",
          "arguments": 3}}]}]})",
       "messages[0].tool_calls[0].function.arguments",
       "messages[0].tool_calls[0].function.arguments must be a string holding a JSON object, "
       "got an integer (3)"},
  };
  for (const ErrorCase& c : cases) expect_chat_error(c);
}

TEST(OpenAiRequest, ToolErrors) {
  const std::string tool = R"({"type": "function", "function": {"name": "f"}})";
  const ErrorCase cases[] = {
      {chat_body(R"("tools": {})"), "tools", "tools must be an array, got an object"},
      {chat_body(R"("tools": [1])"), "tools[0]", "tools[0] must be an object, got an integer (1)"},
      {chat_body(R"("tools": [{"type": "code_interpreter"}])"), "tools[0].type",
       "tools[0].type must be \"function\" (the only tool type supported), got "
       "\"code_interpreter\""},
      {chat_body(R"("tools": [{"type": "function"}])"), "tools[0].function",
       "tools[0].function must be an object {\"name\", \"description\", \"parameters\"}"},
      {chat_body(R"("tools": [{"type": "function", "function": {"name": "a b"}}])"),
       "tools[0].function.name",
       "tools[0].function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_', '-' or '.', "
       "got \"a b\""},
      {chat_body(R"("tools": [{"type": "function", "function": {"name": "f",
          "parameters": "x"}}])"),
       "tools[0].function.parameters",
       "tools[0].function.parameters must be an object (a JSON Schema), got a string"},
      {chat_body(R"("tools": [{"type": "function", "function": {"name": "f",
          "description": 1}}])"),
       "tools[0].function.description",
       "tools[0].function.description must be a string, got an integer (1)"},
      {chat_body(R"("tools": [)" + tool + R"(], "tool_choice": "any")"), "tool_choice",
       "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
       "\"function\": {\"name\": ...}}, got \"any\""},
      {chat_body(R"("tools": [)" + tool + R"(], "tool_choice": 1)"), "tool_choice",
       "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
       "\"function\": {\"name\": ...}}, got an integer (1)"},
      {chat_body(R"("tools": [)" + tool +
                 R"(], "tool_choice": {"type": "function", "function": {"name": "g"}})"),
       "tool_choice", "tool_choice names function \"g\", which is not in tools"},
      {chat_body(R"("tool_choice": "required")"), "tool_choice",
       "tool_choice \"required\" or a named function needs tools"},
      {chat_body(R"("tools": [)" + tool + R"(], "parallel_tool_calls": "no")"),
       "parallel_tool_calls",
       "parallel_tool_calls must be a boolean (true or false), got a string"},
  };
  for (const ErrorCase& c : cases) expect_chat_error(c);
}

TEST(OpenAiRequest, CompletionPromptForms) {
  ApiResult<CompletionRequest> r = parse_completion_request(completion_body(""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prompt_text, "Once");
  EXPECT_FALSE(r->prompt_is_tokens);
  EXPECT_FALSE(r->logprobs.has_value());

  r = parse_completion_request(R"({"prompt": ["upon"]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_text, "upon");
  r = parse_completion_request(R"({"prompt": [1, 2, 3]})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->prompt_is_tokens);
  EXPECT_EQ(r->prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  r = parse_completion_request(R"({"prompt": [[4, 5]], "logprobs": 3, "echo": false})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompt_tokens, (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(r->logprobs, 3);
  EXPECT_TRUE(r->generation.sampling.logprobs);
  EXPECT_EQ(r->generation.sampling.top_logprobs, 3);
  r = parse_completion_request(completion_body(R"("logprobs": 0, "temperature": 0)"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->logprobs, 0);
  EXPECT_TRUE(r->generation.sampling.logprobs);
  EXPECT_EQ(r->generation.sampling.temperature, 0.0f);
}

TEST(OpenAiRequest, CompletionErrors) {
  const ErrorCase cases[] = {
      {R"({"model": "m"})", "prompt",
       "prompt is required: a string, an array of token ids, or an array of one of those"},
      {R"({"prompt": 5})", "prompt",
       "prompt must be a string, an array of token ids, or an array of one of those, got an "
       "integer (5)"},
      {R"({"prompt": []})", "prompt", "prompt must not be empty"},
      {R"({"prompt": [[]]})", "prompt[0]", "prompt[0] must not be empty"},
      {R"({"prompt": ["a", "b"]})", "prompt",
       "only one prompt per request is supported, got 2; send one request per prompt (or use n "
       "for several choices)"},
      {R"({"prompt": [1, -2]})", "prompt",
       "prompt[1] must be a token id (a non-negative integer), got -2"},
      {R"({"prompt": [1, "a"]})", "prompt",
       "prompt[1] must be a token id (a non-negative integer), got \"a\""},
      {R"({"prompt": [[1, 2.5]]})", "prompt[0]",
       "prompt[0][1] must be a token id (a non-negative integer), got 2.5"},
      {completion_body(R"("logprobs": 6)"), "logprobs", "logprobs must be between 0 and 5, got 6"},
      {completion_body(R"("logprobs": true)"), "logprobs",
       "logprobs must be an integer, got a boolean"},
      {completion_body(R"("echo": true)"), "echo",
       "echo=true is not supported: send echo=false (or leave it out) and prepend the prompt "
       "yourself"},
      {completion_body(R"("suffix": "end")"), "suffix",
       "suffix is not supported (no fill-in-the-middle); leave it out"},
      {completion_body(R"("temperature": 3.5)"), "temperature",
       "temperature must be between 0 and 2, got 3.5"},
      {completion_body(R"("response_format": {"type": "json_schema"})"), "response_format",
       "response_format type \"json_schema\" is unsupported: mxserve has no constrained "
       "decoding; only {\"type\": \"text\"} is accepted"},
  };
  for (const ErrorCase& c : cases) expect_completion_error(c);
}

TEST(OpenAiRequest, ErrorMessagesStayShortAndValidUtf8) {
  // A long value is cut at a character boundary, so the error body serializes.
  const std::string snowmen = "☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃☃";
  ApiResult<ChatCompletionRequest> r = parse_chat_completion_request(
      R"({"messages": [{"role": ")" + snowmen + R"(", "content": "x"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "messages[0].role must be one of system, developer, user, assistant, tool, got \"" +
                snowmen.substr(0, 63) + "...");
  EXPECT_NO_THROW((void)r.error().to_json());
}

}  // namespace
}  // namespace mx
