#include "server/responses_request.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

ResponsesRequest parse_ok(const std::string& body) {
  auto parsed = parse_responses_request(body);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? *parsed : ResponsesRequest{};
}

void expect_error(const std::string& body, const std::string& param, const std::string& words) {
  auto parsed = parse_responses_request(body);
  ASSERT_FALSE(parsed.ok()) << body;
  EXPECT_EQ(parsed.error().http_status, 400);
  EXPECT_EQ(parsed.error().param, param) << parsed.error().message;
  EXPECT_NE(parsed.error().message.find(words), std::string::npos) << parsed.error().message;
}

TEST(ResponsesRequest, StringInputWithInstructions) {
  ResponsesRequest r = parse_ok(R"({"model": "m", "input": "Hi", "instructions": "Be brief",
      "max_output_tokens": 20, "temperature": 0, "stream": true, "n": 3, "unknown": 1})");
  EXPECT_EQ(r.chat.messages, Json::parse(R"([{"role": "system", "content": "Be brief"},
      {"role": "user", "content": "Hi"}])"));
  EXPECT_EQ(r.chat.generation.model, "m");
  EXPECT_EQ(r.chat.generation.max_tokens, 20);
  EXPECT_EQ(r.chat.generation.sampling.temperature, 0.0f);
  EXPECT_TRUE(r.chat.generation.stream);
  EXPECT_EQ(r.chat.generation.n, 1);  // n is no Responses field
  EXPECT_EQ(r.echo["instructions"], "Be brief");
  EXPECT_EQ(r.echo["max_output_tokens"], 20);
  EXPECT_EQ(r.echo["temperature"], 0);
  EXPECT_EQ(r.echo["top_p"], 1.0);
  EXPECT_EQ(r.echo["tools"], Json::array());
  EXPECT_EQ(r.echo["tool_choice"], "auto");
  EXPECT_EQ(r.echo["parallel_tool_calls"], true);
  EXPECT_EQ(r.echo["text"], Json::parse(R"({"format": {"type": "text"}})"));
  EXPECT_EQ(r.echo["store"], false);
  EXPECT_EQ(r.echo["metadata"], Json::object());
  EXPECT_EQ(r.chat.tool_choice.mode, ToolChoiceMode::kNone);
}

TEST(ResponsesRequest, ItemsBecomeChatMessages) {
  ResponsesRequest r = parse_ok(R"({"input": [
      {"role": "developer", "content": "Use tools"},
      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"},
                                                      {"type": "input_text", "text": "Paris"}]},
      {"type": "reasoning", "id": "rs_1", "summary": [],
       "content": [{"type": "reasoning_text", "text": "look it up"}]},
      {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
       "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
      {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
       "arguments": "{\"city\": \"Paris\"}"},
      {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": ""},
      {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]})");
  EXPECT_EQ(r.chat.messages, Json::parse(R"([
      {"role": "developer", "content": "Use tools"},
      {"role": "user", "content": "Weather?\nParis"},
      {"role": "assistant", "content": "Checking.", "reasoning_content": "look it up",
       "tool_calls": [
         {"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
         {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": {}}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])"));
}

TEST(ResponsesRequest, AFunctionCallAfterTheUserOpensAnAssistantTurn) {
  ResponsesRequest r = parse_ok(R"({"input": [{"role": "user", "content": "Weather?"},
      {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
      {"type": "function_call_output", "call_id": "c1", "output": [
        {"type": "input_text", "text": "sunny"}]}]})");
  EXPECT_EQ(r.chat.messages[1], Json::parse(R"({"role": "assistant", "content": "",
      "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f",
      "arguments": {}}}]})"));
  EXPECT_EQ(r.chat.messages[2],
            Json::parse(R"({"role": "tool", "tool_call_id": "c1", "content": "sunny"})"));
}

TEST(ResponsesRequest, FlatFunctionToolsMapToChatTools) {
  ResponsesRequest r = parse_ok(R"({"input": "x", "parallel_tool_calls": false,
      "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                 "parameters": {"type": "object"}, "strict": true}],
      "tool_choice": {"type": "function", "name": "get_weather"}})");
  EXPECT_EQ(r.chat.tools, Json::parse(R"([{"type": "function", "function": {
      "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}])"));
  EXPECT_EQ(r.chat.tool_choice.mode, ToolChoiceMode::kFunction);
  EXPECT_EQ(r.chat.tool_choice.function_name, "get_weather");
  EXPECT_FALSE(r.chat.parallel_tool_calls);
  EXPECT_EQ(r.echo["tools"][0]["name"], "get_weather");  // the Responses shape, as sent
  EXPECT_EQ(r.echo["tool_choice"]["name"], "get_weather");
  EXPECT_EQ(r.echo["parallel_tool_calls"], false);
  EXPECT_EQ(parse_ok(R"({"input": "x", "tools": [{"type": "function", "name": "f"}]})")
                .chat.tool_choice.mode,
            ToolChoiceMode::kAuto);
}

TEST(ResponsesRequest, ReasoningEffortNoneTurnsThinkingOff) {
  EXPECT_EQ(
      parse_ok(R"({"input": "x", "reasoning": {"effort": "none"}})").chat.chat_template_kwargs,
      Json::parse(R"({"enable_thinking": false})"));
  EXPECT_EQ(parse_ok(R"({"input": "x", "reasoning": {"effort": "minimal"}})").echo["reasoning"],
            Json::parse(R"({"effort": "minimal", "summary": null})"));
  EXPECT_EQ(
      parse_ok(R"({"input": "x", "reasoning": {"effort": "high"}})").chat.chat_template_kwargs,
      Json::object());
  // Explicit template kwargs win.
  EXPECT_EQ(parse_ok(R"({"input": "x", "reasoning": {"effort": "none"},
                         "chat_template_kwargs": {"enable_thinking": true}})")
                .chat.chat_template_kwargs,
            Json::parse(R"({"enable_thinking": true})"));
}

TEST(ResponsesRequest, EchoedFieldsAreChecked) {
  ResponsesRequest r = parse_ok(R"({"input": "x", "store": true, "user": "u1",
      "metadata": {"k": "v"}, "text": {"format": {"type": "text"}, "verbosity": "low"}})");
  EXPECT_EQ(r.echo["store"], false);  // nothing is stored
  EXPECT_EQ(r.echo["user"], "u1");
  EXPECT_EQ(r.echo["metadata"], Json::parse(R"({"k": "v"})"));
  expect_error(R"({"input": "x", "metadata": {"k": 1}})", "metadata.k", "a string");
}

TEST(ResponsesRequest, Errors) {
  expect_error(R"({"model": "m"})", "input", "input is required");
  expect_error(R"({"input": 5})", "input", "a string or an array");
  expect_error(R"({"input": []})", "input", "must not be empty");
  expect_error(R"({"input": "x", "previous_response_id": "resp_1"})", "previous_response_id",
               "does not store");
  expect_error(R"({"input": "x", "background": true})", "background", "not supported");
  expect_error(R"({"input": [{"type": "item_reference", "id": "msg_1"}]})", "input[0].type",
               "send the item itself");
  expect_error(R"({"input": [{"type": "web_search_call", "id": "ws_1"}]})", "input[0].type",
               "not supported");
  expect_error(R"({"input": [{"role": "tool", "content": "x"}]})", "input[0].role",
               "must be one of");
  expect_error(R"({"input": [{"role": "user", "content": [{"type": "input_image",
      "image_url": "http://x"}]}]})",
               "input[0].content[0].type", "text-only");
  expect_error(R"({"input": [{"type": "function_call", "call_id": "c", "name": "f",
      "arguments": "[1]"}]})",
               "input[0].arguments", "JSON object");
  expect_error(R"({"input": [{"type": "function_call_output", "output": "x"}]})", "input[0]",
               "call_id is required");
  expect_error(R"({"input": "x", "text": {"format": {"type": "json_schema"}}})", "text.format",
               "constrained");
  expect_error(R"({"input": "x", "tools": [{"type": "web_search"}]})", "tools[0].type",
               "only function tools");
  expect_error(R"({"input": "x", "tools": [{"type": "function", "name": "bad name"}]})",
               "tools[0].name", "tools[0].name must be");
  expect_error(R"({"input": "x", "tool_choice": {"type": "file_search"}})", "tool_choice",
               "tool_choice must be");
  expect_error(R"({"input": "x", "tool_choice": "sometimes"})", "tool_choice",
               "{\"type\": \"function\", \"name\": ...}");
  expect_error(R"({"input": "x", "tool_choice": {"type": "function", "name": "g"},
      "tools": [{"type": "function", "name": "f"}]})",
               "tool_choice", "not in tools");
  expect_error(R"({"input": "x", "reasoning": {"effort": "max"}})", "reasoning.effort",
               "must be one of");
  expect_error(R"({"input": "x", "max_output_tokens": 0})", "max_output_tokens", "");
  expect_error(R"({"input": "x", "temperature": 3})", "temperature", "between 0 and 2");
  expect_error(R"({"input": "x", "instructions": 1})", "instructions", "a string");
}

}  // namespace
}  // namespace mx
