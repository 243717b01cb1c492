#include "server/call_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

Json data_of(const std::string& event) {
  EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
  EXPECT_TRUE(event.ends_with("\n\n")) << event;
  return Json::parse(event.substr(6));
}

TEST(CallFormat, ChatStreamSendsTheRoleFirstThenDeltasThenUsageAndDone) {
  auto format = make_chat_format("m", ChatFormatOptions{true, false});
  EXPECT_EQ(format->meta().id.rfind("chatcmpl-", 0), 0u);
  std::vector<TokenLogprobs> logprobs;
  const Json first = data_of(format->stream_delta(0, OutputDelta{}, logprobs, std::nullopt));
  EXPECT_EQ(first["choices"][0]["delta"], Json::parse(R"({"role": "assistant", "content": ""})"));
  EXPECT_EQ(first["usage"], nullptr);
  // Nothing new and not final: nothing to send.
  EXPECT_EQ(format->stream_delta(0, OutputDelta{}, logprobs, std::nullopt), "");
  const Json text =
      data_of(format->stream_delta(0, OutputDelta{"r", "Hi", {}, false}, logprobs, std::nullopt));
  EXPECT_EQ(text["choices"][0]["delta"],
            Json::parse(R"({"content": "Hi", "reasoning_content": "r"})"));
  const Json last =
      data_of(format->stream_delta(0, OutputDelta{}, logprobs, FinishReason::kLength));
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  const std::string end = format->stream_end(Usage{3, 2, 0, 0}, false);
  EXPECT_TRUE(end.ends_with(kSseDone));
  EXPECT_EQ(data_of(end.substr(0, end.size() - kSseDone.size()))["usage"]["total_tokens"], 5);
  EXPECT_EQ(format->stream_end(Usage{}, true), kSseDone);  // no usage after a failure
}

TEST(CallFormat, CompletionLogprobOffsetsContinueAcrossChunks) {
  auto format = make_completion_format("m", ChatFormatOptions{false, true});
  EXPECT_EQ(format->meta().id.rfind("cmpl-", 0), 0u);
  std::vector<TokenLogprobs> logprobs = {{"ab", -0.5f, {}}};
  Json chunk =
      data_of(format->stream_delta(0, OutputDelta{"", "ab", {}, false}, logprobs, std::nullopt));
  EXPECT_TRUE(logprobs.empty());  // taken
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["text_offset"], Json::parse("[0]"));
  logprobs = {{"c", -0.1f, {}}};
  chunk = data_of(
      format->stream_delta(0, OutputDelta{"", "c", {}, false}, logprobs, FinishReason::kStop));
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["text_offset"], Json::parse("[2]"));
  EXPECT_EQ(chunk["choices"][0]["finish_reason"], "stop");
}

TEST(CallFormat, WholeBodies) {
  ChoiceResult choice;
  choice.content = "Hello";
  const Json chat = Json::parse(make_chat_format("m", {})->whole_body({&choice, 1}, Usage{}));
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "Hello");
  const Json text = Json::parse(make_completion_format("m", {})->whole_body({&choice, 1}, Usage{}));
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "Hello");
}

}  // namespace
}  // namespace mx
