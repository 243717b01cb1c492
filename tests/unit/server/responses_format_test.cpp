#include "server/responses_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

const Json kEcho = Json::parse(R"({"instructions": null, "max_output_tokens": 8})");

struct Event {
  std::string name;  // the SSE "event:" line
  Json data;
};

// Splits SSE text into its events; every one must be "event: T\ndata: {...type: T...}".
std::vector<Event> events_of(const std::string& text) {
  std::vector<Event> events;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = text.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated event";
    if (end == std::string::npos) break;
    const std::string block = text.substr(at, end - at);
    const size_t newline = block.find('\n');
    EXPECT_EQ(block.rfind("event: ", 0), 0u) << block;
    EXPECT_EQ(block.compare(newline + 1, 6, "data: "), 0) << block;
    Event event{block.substr(7, newline - 7), Json::parse(block.substr(newline + 7))};
    EXPECT_EQ(event.data["type"], event.name);
    events.push_back(std::move(event));
    at = end + 2;
  }
  return events;
}

std::vector<std::string> types_of(const std::vector<Event>& events) {
  std::vector<std::string> types;
  for (const Event& e : events) types.push_back(e.name);
  return types;
}

// What the SDK's ResponseStream does with the events (lib/responses/ResponseStream): a snapshot
// from response.created, items appended, parts and deltas applied where the indexes say; throws
// (fails) on an index that names nothing, as the SDK does.
Json accumulate(const std::vector<Event>& events) {
  Json snapshot = events.at(0).data["response"];
  for (size_t i = 1; i < events.size(); ++i) {
    const Json& e = events[i].data;
    const std::string& type = events[i].name;
    EXPECT_EQ(e["sequence_number"], i) << type;
    if (type == "response.output_item.added") {
      EXPECT_EQ(e["output_index"], snapshot["output"].size());
      snapshot["output"].push_back(e["item"]);
    } else if (type == "response.content_part.added") {
      Json& item = snapshot["output"].at(e["output_index"].get<size_t>());
      EXPECT_EQ(item["id"], e["item_id"]);
      if (item["type"] == "message") item["content"].push_back(e["part"]);
    } else if (type == "response.output_text.delta") {
      Json& item = snapshot["output"].at(e["output_index"].get<size_t>());
      Json& part = item["content"].at(e["content_index"].get<size_t>());
      EXPECT_EQ(part["type"], "output_text");
      part["text"] = part["text"].get<std::string>() + e["delta"].get<std::string>();
    } else if (type == "response.function_call_arguments.delta") {
      Json& item = snapshot["output"].at(e["output_index"].get<size_t>());
      EXPECT_EQ(item["type"], "function_call");
      item["arguments"] = item["arguments"].get<std::string>() + e["delta"].get<std::string>();
    } else if (type == "response.completed" || type == "response.incomplete") {
      // The accumulated output says what the final one says (statuses aside).
      Json accumulated = snapshot["output"];
      Json final_output = e["response"]["output"];
      for (Json* output : {&accumulated, &final_output}) {
        for (Json& item : *output) {
          item.erase("status");
          if (item["type"] == "reasoning") item["content"] = Json::array();
        }
      }
      EXPECT_EQ(accumulated, final_output);
      snapshot = e["response"];
    }
  }
  return snapshot;
}

TEST(ResponsesFormat, UsageShape) {
  EXPECT_EQ(responses_usage_json(Usage{10, 5, 4, 3}), Json::parse(R"({"input_tokens": 10,
      "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5,
      "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 15})"));
}

TEST(ResponsesFormat, WholeBodyWithReasoningAndText) {
  auto format = make_responses_format("qwen3", kEcho);
  EXPECT_EQ(format->meta().id.rfind("resp_", 0), 0u);
  ChoiceResult choice;
  choice.content = "Hello!";
  choice.reasoning = "greet";
  const Json body = Json::parse(format->whole_body({&choice, 1}, Usage{7, 3, 2, 1}));
  EXPECT_EQ(body["id"], format->meta().id);
  EXPECT_EQ(body["object"], "response");
  EXPECT_EQ(body["status"], "completed");
  EXPECT_EQ(body["incomplete_details"], nullptr);
  EXPECT_EQ(body["model"], "qwen3");
  EXPECT_EQ(body["max_output_tokens"], 8);  // echoed
  ASSERT_EQ(body["output"].size(), 2u);
  const Json& reasoning = body["output"][0];
  EXPECT_EQ(reasoning["type"], "reasoning");
  EXPECT_EQ(reasoning["id"].get<std::string>().rfind("rs_", 0), 0u);
  EXPECT_EQ(reasoning["summary"], Json::array());
  EXPECT_EQ(reasoning["content"], Json::parse(R"([{"type": "reasoning_text", "text": "greet"}])"));
  const Json& message = body["output"][1];
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["id"].get<std::string>().rfind("msg_", 0), 0u);
  EXPECT_EQ(message["role"], "assistant");
  EXPECT_EQ(message["status"], "completed");
  EXPECT_EQ(message["content"], Json::parse(R"([{"type": "output_text", "text": "Hello!",
      "annotations": [], "logprobs": []}])"));
  EXPECT_EQ(body["usage"]["input_tokens_details"]["cached_tokens"], 2);
}

TEST(ResponsesFormat, WholeBodyCutByLengthIsIncomplete) {
  auto format = make_responses_format("m", kEcho);
  ChoiceResult choice;
  choice.content = "Once upon";
  choice.finish = FinishReason::kLength;
  const Json body = Json::parse(format->whole_body({&choice, 1}, Usage{}));
  EXPECT_EQ(body["status"], "incomplete");
  EXPECT_EQ(body["incomplete_details"], Json::parse(R"({"reason": "max_output_tokens"})"));
  EXPECT_EQ(body["output"][0]["status"], "incomplete");
}

TEST(ResponsesFormat, WholeBodyOfFunctionCallsHasNoMessage) {
  auto format = make_responses_format("m", kEcho);
  ChoiceResult choice;
  choice.tool_calls = {{"call_a", "get_weather", R"({"city":"Paris"})"}};
  choice.finish = FinishReason::kToolCalls;
  const Json body = Json::parse(format->whole_body({&choice, 1}, Usage{}));
  EXPECT_EQ(body["status"], "completed");
  ASSERT_EQ(body["output"].size(), 1u);
  const Json& call = body["output"][0];
  EXPECT_EQ(call["type"], "function_call");
  EXPECT_EQ(call["id"].get<std::string>().rfind("fc_", 0), 0u);
  EXPECT_EQ(call["call_id"], "call_a");
  EXPECT_EQ(call["name"], "get_weather");
  EXPECT_EQ(call["arguments"], R"({"city":"Paris"})");
}

TEST(ResponsesFormat, StreamOfReasoningThenText) {
  auto format = make_responses_format("m", kEcho);
  std::vector<TokenLogprobs> logprobs;
  std::string text = format->stream_start();
  text += format->stream_delta(0, OutputDelta{"think ", "", {}, false}, logprobs, std::nullopt);
  text += format->stream_delta(0, OutputDelta{"more", "Hel", {}, false}, logprobs, std::nullopt);
  text += format->stream_delta(0, OutputDelta{"", "lo", {}, false}, logprobs, std::nullopt);
  text += format->stream_delta(0, OutputDelta{}, logprobs, FinishReason::kStop);
  text += format->stream_end(Usage{5, 4, 1, 2}, false);
  const std::vector<Event> events = events_of(text);
  EXPECT_EQ(
      types_of(events),
      (std::vector<std::string>{
          "response.created", "response.in_progress", "response.output_item.added",
          "response.content_part.added", "response.reasoning_text.delta",
          "response.reasoning_text.delta", "response.reasoning_text.done",
          "response.content_part.done", "response.output_item.done", "response.output_item.added",
          "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
          "response.output_text.done", "response.content_part.done", "response.output_item.done",
          "response.completed"}));
  EXPECT_EQ(events[0].data["response"]["status"], "in_progress");
  EXPECT_EQ(events[0].data["response"]["usage"], nullptr);
  EXPECT_EQ(events[6].data["text"], "think more");
  EXPECT_EQ(events[13].data["text"], "Hello");
  const Json final_response = accumulate(events);
  EXPECT_EQ(final_response["status"], "completed");
  EXPECT_EQ(final_response["id"], format->meta().id);
  EXPECT_EQ(final_response["output"][0]["content"][0]["text"], "think more");
  EXPECT_EQ(final_response["output"][1]["content"][0]["text"], "Hello");
  EXPECT_EQ(final_response["usage"]["output_tokens"], 4);
}

TEST(ResponsesFormat, StreamWithFunctionCall) {
  auto format = make_responses_format("m", kEcho);
  std::vector<TokenLogprobs> logprobs;
  std::string text = format->stream_start();
  text +=
      format->stream_delta(0, OutputDelta{"", "Let me check.", {}, false}, logprobs, std::nullopt);
  OutputDelta call;
  call.tool_calls = {{0, "call_a", "get_weather", R"({"city":"Paris"})"}};
  text += format->stream_delta(0, call, logprobs, FinishReason::kToolCalls);
  text += format->stream_end(Usage{}, false);
  const std::vector<Event> events = events_of(text);
  const Json final_response = accumulate(events);
  ASSERT_EQ(final_response["output"].size(), 2u);
  EXPECT_EQ(final_response["output"][0]["content"][0]["text"], "Let me check.");
  const Json& item = final_response["output"][1];
  EXPECT_EQ(item["type"], "function_call");
  EXPECT_EQ(item["call_id"], "call_a");
  EXPECT_EQ(item["arguments"], R"({"city":"Paris"})");
  EXPECT_EQ(item["status"], "completed");
  bool saw_done = false;
  for (const Event& e : events) {
    if (e.name != "response.function_call_arguments.done") continue;
    saw_done = true;
    EXPECT_EQ(e.data["arguments"], R"({"city":"Paris"})");
    EXPECT_EQ(e.data["item_id"], item["id"]);
  }
  EXPECT_TRUE(saw_done);
}

TEST(ResponsesFormat, StreamCutByLengthEndsIncomplete) {
  auto format = make_responses_format("m", kEcho);
  std::vector<TokenLogprobs> logprobs;
  std::string text = format->stream_start();
  text +=
      format->stream_delta(0, OutputDelta{"", "abc", {}, false}, logprobs, FinishReason::kLength);
  text += format->stream_end(Usage{}, false);
  const std::vector<Event> events = events_of(text);
  EXPECT_EQ(events.back().name, "response.incomplete");
  const Json final_response = accumulate(events);
  EXPECT_EQ(final_response["status"], "incomplete");
  EXPECT_EQ(final_response["incomplete_details"]["reason"], "max_output_tokens");
  EXPECT_EQ(final_response["output"][0]["status"], "incomplete");
}

TEST(ResponsesFormat, StreamWithoutOutputStillHasAMessage) {
  auto format = make_responses_format("m", kEcho);
  std::vector<TokenLogprobs> logprobs;
  std::string text = format->stream_start();
  text += format->stream_delta(0, OutputDelta{}, logprobs, FinishReason::kStop);
  text += format->stream_end(Usage{}, false);
  const Json final_response = accumulate(events_of(text));
  ASSERT_EQ(final_response["output"].size(), 1u);
  EXPECT_EQ(final_response["output"][0]["content"][0]["text"], "");
}

TEST(ResponsesFormat, StreamFailure) {
  auto format = make_responses_format("m", kEcho);
  std::string text = format->stream_start();
  text += format->stream_error("the server is shutting down; retry the request");
  text += format->stream_end(Usage{}, true);
  const std::vector<Event> events = events_of(text);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].name, "error");
  EXPECT_EQ(events[2].data["code"], "server_error");
  EXPECT_EQ(events[2].data["sequence_number"], 2);
  EXPECT_EQ(events[3].name, "response.failed");
  EXPECT_EQ(events[3].data["response"]["status"], "failed");
  EXPECT_EQ(events[3].data["response"]["error"]["message"],
            "the server is shutting down; retry the request");
}

}  // namespace
}  // namespace mx
