#include "server/tool_call_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "output_text_test_util.h"

namespace mx {
namespace {

using testing::cuts_of;
using testing::describe_cut;

struct Parsed {
  std::string content;
  std::vector<std::string> calls;  // "index id name arguments", from the deltas
  bool operator==(const Parsed&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Parsed& p) {
  os << "{content: \"" << p.content << "\", calls: [";
  for (const std::string& call : p.calls) os << call << "; ";
  return os << "]}";
}

Parsed run_parser(ToolCallFormat format, const std::vector<std::string>& pieces) {
  int next_id = 0;
  ToolCallParser parser(format, [&next_id] { return "call_" + std::to_string(next_id++); });
  Parsed result;
  auto take = [&](const ToolCallOutput& out) {
    result.content += out.content;
    for (const ToolCallDelta& d : out.calls) {
      result.calls.push_back(std::to_string(d.index) + " " + d.id + " " + d.name + " " +
                             d.arguments);
    }
  };
  for (const std::string& piece : pieces) take(parser.feed(piece));
  take(parser.finish());
  // The completed calls match the deltas.
  EXPECT_EQ(parser.calls().size(), result.calls.size());
  for (size_t i = 0; i < parser.calls().size() && i < result.calls.size(); ++i) {
    const ToolCall& call = parser.calls()[i];
    EXPECT_EQ(std::to_string(i) + " " + call.id + " " + call.name + " " + call.arguments,
              result.calls[i]);
  }
  return result;
}

void expect_all_cuts(ToolCallFormat format, const std::string& text, const Parsed& expected) {
  for (const auto& pieces : cuts_of(text)) {
    ASSERT_EQ(run_parser(format, pieces), expected) << describe_cut(pieces);
  }
}

const std::string kWeather = R"({"name": "get_weather", "arguments": {"city": "Paris", "n": 2}})";

TEST(ToolCallParser, HermesOneCall) {
  expect_all_cuts(ToolCallFormat::kHermes, "<tool_call>\n" + kWeather + "\n</tool_call>",
                  {"", {R"(0 call_0 get_weather {"city":"Paris","n":2})"}});
}

TEST(ToolCallParser, HermesSeveralCallsWithContentAround) {
  const std::string text = "Let me check.\n\n<tool_call>\n" + kWeather +
                           "\n</tool_call>\n<tool_call>\n{\"name\": \"now\", \"parameters\": "
                           "{}}\n</tool_call>\nDone.";
  expect_all_cuts(ToolCallFormat::kHermes, text,
                  {"Let me check.Done.",
                   {R"(0 call_0 get_weather {"city":"Paris","n":2})", "1 call_1 now {}"}});
}

TEST(ToolCallParser, HermesArgumentsVariants) {
  // Arguments as a JSON string, key order kept, missing arguments = {}.
  expect_all_cuts(ToolCallFormat::kHermes,
                  R"(<tool_call>{"name": "f", "arguments": "{\"b\": 1, \"a\": 2}"}</tool_call>)",
                  {"", {R"(0 call_0 f {"b":1,"a":2})"}});
  expect_all_cuts(ToolCallFormat::kHermes, R"(<tool_call>{"name": "f"}</tool_call>)",
                  {"", {"0 call_0 f {}"}});
}

TEST(ToolCallParser, HermesMalformedIsContentAsWritten) {
  for (const std::string& text : {
           std::string("Hi\n<tool_call>\n{not json}\n</tool_call> bye"),
           std::string("<tool_call>{\"arguments\": {}}</tool_call>"),  // no name
           std::string("<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>"),
           std::string("<tool_call>[1, 2]</tool_call>"),
           std::string("<tool_call>\n{\"name\": \"f\", \"argu"),  // cut short
           std::string("text then <tool_"),
       }) {
    expect_all_cuts(ToolCallFormat::kHermes, text, {text, {}});
  }
}

TEST(ToolCallParser, HermesCallCutShortButComplete) {
  // The generation ended (EOS / max_tokens) before </tool_call>, after complete JSON.
  expect_all_cuts(ToolCallFormat::kHermes, "<tool_call>\n" + kWeather + "\n",
                  {"", {R"(0 call_0 get_weather {"city":"Paris","n":2})"}});
}

TEST(ToolCallParser, HermesStreamsContentBeforeTheCallCloses) {
  ToolCallParser parser(ToolCallFormat::kHermes, [] { return std::string("id"); });
  ToolCallOutput out = parser.feed("Sure. <tool");
  EXPECT_EQ(out.content, "Sure.");
  out = parser.feed("_call>{\"name\": \"f\", ");
  EXPECT_EQ(out.content, "");
  EXPECT_TRUE(out.calls.empty());
  out = parser.feed("\"arguments\": {}}</tool_call>");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].index, 0);
  EXPECT_EQ(out.calls[0].id, "id");
  EXPECT_EQ(out.calls[0].name, "f");
  EXPECT_EQ(out.calls[0].arguments, "{}");
  EXPECT_EQ(parser.finish().content, "");
}

const std::string kDsCallsBegin = "<｜tool▁calls▁begin｜>";
const std::string kDsCallsEnd = "<｜tool▁calls▁end｜>";
const std::string kDsCallBegin = "<｜tool▁call▁begin｜>";
const std::string kDsCallEnd = "<｜tool▁call▁end｜>";
const std::string kDsSep = "<｜tool▁sep｜>";

TEST(ToolCallParser, DeepSeekTokensAreTheFullwidthCharacters) {
  // U+FF5C FULLWIDTH VERTICAL LINE = EF BD 9C, U+2581 LOWER ONE EIGHTH BLOCK = E2 96 81.
  EXPECT_EQ(kDsSep, "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>");
}

TEST(ToolCallParser, DeepSeekV3SeveralCalls) {
  const std::string text = "Checking." + kDsCallsBegin + kDsCallBegin + "function" + kDsSep +
                           "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + kDsCallEnd + "\n" +
                           kDsCallBegin + "function" + kDsSep + "get_time\n```json\n{}\n```" +
                           kDsCallEnd + kDsCallsEnd;
  expect_all_cuts(
      ToolCallFormat::kDeepSeekV3, text,
      {"Checking.", {R"(0 call_0 get_weather {"city":"Paris"})", "1 call_1 get_time {}"}});
}

TEST(ToolCallParser, DeepSeekV31Form) {
  const std::string text = kDsCallsBegin + kDsCallBegin + "get_weather" + kDsSep +
                           "{\"city\": \"Paris\"}" + kDsCallEnd + kDsCallBegin + "f" + kDsSep +
                           "{}" + kDsCallEnd + kDsCallsEnd + "\n";
  expect_all_cuts(ToolCallFormat::kDeepSeekV3, text,
                  {"", {R"(0 call_0 get_weather {"city":"Paris"})", "1 call_1 f {}"}});
}

TEST(ToolCallParser, DeepSeekSectionCutShort) {
  // EOS right after the last call, without <｜tool▁calls▁end｜>.
  const std::string text = kDsCallsBegin + kDsCallBegin + "f" + kDsSep + "{\"x\": 1}" + kDsCallEnd;
  expect_all_cuts(ToolCallFormat::kDeepSeekV3, text, {"", {R"(0 call_0 f {"x":1})"}});
}

TEST(ToolCallParser, DeepSeekMalformedIsContent) {
  for (const std::string& text : {
           kDsCallsBegin + kDsCallBegin + "function" + kDsSep + "f\n{no fence}" + kDsCallEnd +
               kDsCallsEnd,
           kDsCallsBegin + "garbage" + kDsCallsEnd + " after",
           kDsCallsBegin + kDsCallBegin + "f" + kDsSep + "{\"x\": " + kDsCallEnd + kDsCallsEnd,
           kDsCallsBegin + kDsCallsEnd,
       }) {
    expect_all_cuts(ToolCallFormat::kDeepSeekV3, text, {text, {}});
  }
}

TEST(ToolCallParser, Llama3Json) {
  expect_all_cuts(ToolCallFormat::kLlama3Json,
                  R"({"name": "get_weather", "parameters": {"city": "Paris"}})",
                  {"", {R"(0 call_0 get_weather {"city":"Paris"})"}});
  expect_all_cuts(ToolCallFormat::kLlama3Json,
                  "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"type\": \"function\", "
                  "\"name\": \"b\", \"parameters\": {\"k\": [1]}}\n",
                  {"", {"0 call_0 a {}", R"(1 call_1 b {"k":[1]})"}});
}

TEST(ToolCallParser, Llama3ContentIsNotACall) {
  for (const std::string& text : {
           std::string("The weather is fine."),
           std::string("{\"answer\": 42}"),
           std::string("{\"name\": \"f\", \"parameters\": {}} trailing words"),
           std::string("{\"name\": \"f\""),
           std::string("<|python_tag|>brave_search.call(query=\"x\")"),
           std::string(" \n{"),
       }) {
    expect_all_cuts(ToolCallFormat::kLlama3Json, text, {text, {}});
  }
}

TEST(ToolCallParser, Llama3PlainTextStreamsImmediately) {
  ToolCallParser parser(ToolCallFormat::kLlama3Json);
  EXPECT_EQ(parser.feed(" ").content, "");
  EXPECT_EQ(parser.feed("Hello").content, " Hello");
  ToolCallParser object(ToolCallFormat::kLlama3Json);
  EXPECT_EQ(object.feed("{\"answ").content, "");
  EXPECT_EQ(object.feed("er\": 1").content, "{\"answer\": 1");  // first key is not a call's
}

TEST(ToolCallParser, NoneFormatPassesThrough) {
  const std::string text = "<tool_call>{\"name\": \"f\"}</tool_call>";
  expect_all_cuts(ToolCallFormat::kNone, text, {text, {}});
}

TEST(ToolCallParser, RandomIdsLookLikeOpenAis) {
  const std::string a = random_tool_call_id(), b = random_tool_call_id();
  EXPECT_EQ(a.size(), 29u);
  EXPECT_EQ(a.substr(0, 5), "call_");
  EXPECT_NE(a, b);
}

std::string read_template(const std::string& name) {
  std::ifstream file(std::string(MX_TEST_DATA_DIR) + "/../fuzz/corpus/jinja/" + name);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_FALSE(text.str().empty()) << name;
  return text.str();
}

TEST(ToolCallParser, DetectsTheFormatFromRealTemplates) {
  EXPECT_EQ(detect_tool_call_format(read_template("qwen3.jinja")), ToolCallFormat::kHermes);
  EXPECT_EQ(detect_tool_call_format(read_template("deepseek_v3.jinja")),
            ToolCallFormat::kDeepSeekV3);
  EXPECT_EQ(detect_tool_call_format(read_template("deepseek_r1.jinja")),
            ToolCallFormat::kDeepSeekV3);
  EXPECT_EQ(detect_tool_call_format(read_template("llama3_1_tool_use.jinja")),
            ToolCallFormat::kLlama3Json);
  EXPECT_EQ(detect_tool_call_format(read_template("llama3_2.jinja")), ToolCallFormat::kLlama3Json);
  EXPECT_EQ(detect_tool_call_format(read_template("llama3.jinja")), ToolCallFormat::kNone);
  EXPECT_EQ(detect_tool_call_format(read_template("glm4_5.jinja")), ToolCallFormat::kNone);
  EXPECT_EQ(detect_tool_call_format(read_template("kimi_k2.jinja")), ToolCallFormat::kNone);
  EXPECT_STREQ(tool_call_format_name(ToolCallFormat::kDeepSeekV3), "deepseek_v3");
}

}  // namespace
}  // namespace mx
