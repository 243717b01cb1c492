#include "server/output_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "output_text_test_util.h"

namespace mx {
namespace {

using testing::cuts_of;
using testing::describe_cut;

// ---- StopMatcher ----

struct StopResult {
  std::string text;
  bool stopped = false;
  bool operator==(const StopResult&) const = default;
};

StopResult run_stop(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher matcher(stops);
  StopResult result;
  for (const std::string& piece : pieces) result.text += matcher.feed(piece);
  result.stopped = matcher.stopped();
  result.text += matcher.finish();
  return result;
}

void expect_stop_all_cuts(const std::vector<std::string>& stops, const std::string& text,
                          const StopResult& expected) {
  for (const auto& pieces : cuts_of(text)) {
    ASSERT_EQ(run_stop(stops, pieces), expected) << describe_cut(pieces);
  }
}

TEST(StopMatcher, StopsBeforeTheEarliestStopStringAtEveryCut) {
  expect_stop_all_cuts({"world"}, "Hello world, again", {"Hello ", true});
  expect_stop_all_cuts({"</s>", "\n\nUser:"}, "ab\n\nUse\n\nUser: hi</s>", {"ab\n\nUse", true});
  // The earliest occurrence wins, whichever stop string it is.
  expect_stop_all_cuts({"cd", "bcx", "b"}, "abcd", {"a", true});
  // Overlapping prefixes: "aab" inside "aaab".
  expect_stop_all_cuts({"aab"}, "xaaab", {"xa", true});
  expect_stop_all_cuts({"ab"}, "aaaa", {"aaaa", false});
  expect_stop_all_cuts({"end"}, "no stop here, en", {"no stop here, en", false});
  expect_stop_all_cuts({"☃!"}, "snow☃man☃!x", {"snow☃man", true});
  expect_stop_all_cuts({}, "anything", {"anything", false});
  expect_stop_all_cuts({""}, "empty stops are ignored", {"empty stops are ignored", false});
}

TEST(StopMatcher, HoldsBackOnlyWhatCouldStartAStop) {
  StopMatcher matcher({"world", "wx"});
  EXPECT_EQ(matcher.feed("Hello wor"), "Hello ");
  EXPECT_EQ(matcher.feed("m"), "worm");
  EXPECT_EQ(matcher.feed(" w"), " ");
  EXPECT_EQ(matcher.feed("orld!"), "");
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(matcher.matched_stop(), "world");
  EXPECT_EQ(matcher.feed("more"), "");
  EXPECT_EQ(matcher.finish(), "");
}

TEST(StopMatcher, FinishFlushesHeldText) {
  StopMatcher matcher({"STOP"});
  EXPECT_EQ(matcher.feed("abc ST"), "abc ");
  EXPECT_EQ(matcher.finish(), "ST");
  EXPECT_FALSE(matcher.stopped());
  EXPECT_EQ(matcher.matched_stop(), "");
}

// ---- ReasoningSplitter ----

struct Split {
  std::string reasoning;
  std::string content;
  bool operator==(const Split&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Split& s) {
  return os << "{reasoning: \"" << s.reasoning << "\", content: \"" << s.content << "\"}";
}

Split run_split(bool starts_in_reasoning, const std::vector<std::string>& pieces) {
  ReasoningSplitter splitter(ReasoningOptions{starts_in_reasoning});
  Split result;
  for (const std::string& piece : pieces) {
    ReasoningDelta delta = splitter.feed(piece);
    result.reasoning += delta.reasoning;
    result.content += delta.content;
  }
  ReasoningDelta delta = splitter.finish();
  result.reasoning += delta.reasoning;
  result.content += delta.content;
  return result;
}

void expect_split_all_cuts(bool starts_in_reasoning, const std::string& text,
                           const Split& expected) {
  for (const auto& pieces : cuts_of(text)) {
    ASSERT_EQ(run_split(starts_in_reasoning, pieces), expected) << describe_cut(pieces);
  }
}

TEST(ReasoningSplitter, SplitsThinkAtEveryCut) {
  // Qwen3's shape: newlines inside the tags and after the closing tag are dropped.
  expect_split_all_cuts(false, "<think>\nLet me see.\n</think>\n\nThe answer is 4.",
                        {"Let me see.", "The answer is 4."});
  expect_split_all_cuts(false, "\n <think>a\n\nb</think>c\n", {"a\n\nb", "c\n"});
  expect_split_all_cuts(false, "<think></think>\n\nonly content", {"", "only content"});
}

TEST(ReasoningSplitter, NoOpeningTagIsContent) {
  expect_split_all_cuts(false, "Just an answer.", {"", "Just an answer."});
  expect_split_all_cuts(false, " \n indented", {"", " \n indented"});
  // An opening tag later in the text is the model writing about it.
  expect_split_all_cuts(false, "Use <think>x</think> tags", {"", "Use <think>x</think> tags"});
  expect_split_all_cuts(false, "<thin", {"", "<thin"});
  expect_split_all_cuts(false, "\n\n", {"", "\n\n"});
  // A stray closing tag without reasoning mode is content too.
  expect_split_all_cuts(false, "a</think>b", {"", "a</think>b"});
}

TEST(ReasoningSplitter, StartsInReasoning) {
  // DeepSeek-R1 / Qwen3 with thinking forced: "<think>" is in the prompt.
  expect_split_all_cuts(true, "\nfirst, think\n</think>\n\nDone", {"first, think", "Done"});
  // The model writing "<think>" itself anyway is swallowed.
  expect_split_all_cuts(true, "<think>\nhm</think>ok", {"hm", "ok"});
  // Ends inside reasoning: all of it is reasoning (cut tags included).
  expect_split_all_cuts(true, "still thinking\n", {"still thinking", ""});
  expect_split_all_cuts(true, "a</thi", {"a</thi", ""});
}

TEST(ReasoningSplitter, AfterTheClosingTagEverythingIsContent) {
  expect_split_all_cuts(false, "<think>r</think>x</think>y<think>z", {"r", "x</think>y<think>z"});
  expect_split_all_cuts(false, "<think>unterminated", {"unterminated", ""});
}

TEST(ReasoningSplitter, StreamsAsSoonAsTextIsDecided) {
  ReasoningSplitter splitter;
  ReasoningDelta d = splitter.feed("<thi");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "");
  d = splitter.feed("nk>\nab");
  EXPECT_EQ(d.reasoning, "ab");
  EXPECT_TRUE(splitter.in_reasoning());
  d = splitter.feed("c\n</th");
  EXPECT_EQ(d.reasoning, "c");  // "\n</th" held: newline before a possible closing tag
  d = splitter.feed("ink>\n\nx");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "x");
  EXPECT_FALSE(splitter.in_reasoning());
  d = splitter.feed(" y");
  EXPECT_EQ(d.content, " y");
}

// ---- OutputText (the three stages together) ----

struct Output {
  std::string reasoning;
  std::string content;
  std::vector<std::string> calls;  // "id name arguments"
  bool stopped = false;
  bool operator==(const Output&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Output& o) {
  os << "{reasoning: \"" << o.reasoning << "\", content: \"" << o.content << "\", calls: [";
  for (const std::string& call : o.calls) os << call << "; ";
  return os << "], stopped: " << o.stopped << "}";
}

Output run_output(OutputTextOptions options, const std::vector<std::string>& pieces) {
  int next_id = 0;
  options.make_tool_call_id = [&next_id] { return "call_" + std::to_string(next_id++); };
  OutputText text(std::move(options));
  Output result;
  auto take = [&](const OutputDelta& delta) {
    result.reasoning += delta.reasoning;
    result.content += delta.content;
    for (const ToolCallDelta& call : delta.tool_calls) {
      result.calls.push_back(std::to_string(call.index) + " " + call.id + " " + call.name + " " +
                             call.arguments);
    }
    result.stopped = result.stopped || delta.stopped;
  };
  for (const std::string& piece : pieces) take(text.feed(piece));
  take(text.finish());
  EXPECT_EQ(text.tool_calls().size(), result.calls.size());
  return result;
}

TEST(OutputText, StopReasoningAndToolsTogetherAtEveryCut) {
  OutputTextOptions options;
  options.stop = {"STOP"};
  options.split_reasoning = true;
  options.tool_call_format = ToolCallFormat::kHermes;
  const std::string text =
      "<think>\nplan\n</think>\n\nOK.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": "
      "1}}\n</tool_call>STOP ignored";
  const Output expected{"plan", "OK.", {"0 call_0 f {\"a\":1}"}, true};
  for (const auto& pieces : cuts_of(text)) {
    ASSERT_EQ(run_output(options, pieces), expected) << describe_cut(pieces);
  }
}

TEST(OutputText, StopInsideReasoningFlushesEverything) {
  OutputTextOptions options;
  options.stop = {"halt"};
  options.split_reasoning = true;
  options.starts_in_reasoning = true;
  const Output expected{"I will", "", {}, true};
  for (const auto& pieces : cuts_of("I will halt</think>answer")) {
    ASSERT_EQ(run_output(options, pieces), expected) << describe_cut(pieces);
  }
}

TEST(OutputText, InReasoningCountsReasoningTokens) {
  OutputTextOptions options;
  options.split_reasoning = true;
  OutputText text(options);
  std::string in_reasoning;
  for (const char* token : {"<think>", "\n", "a", "</think>", "\n\n", "b"}) {
    (void)text.feed(token);
    in_reasoning += text.in_reasoning() ? '1' : '0';
  }
  EXPECT_EQ(in_reasoning, "111000");
  options.starts_in_reasoning = true;
  EXPECT_TRUE(OutputText(options).in_reasoning());
  EXPECT_FALSE(OutputText(OutputTextOptions{}).in_reasoning());
}

TEST(OutputText, NothingAfterStopOrFinish) {
  OutputText text(OutputTextOptions{{"x"}, false, false, ToolCallFormat::kNone, {}});
  OutputDelta d = text.feed("abxcd");
  EXPECT_EQ(d.content, "ab");
  EXPECT_TRUE(d.stopped);
  EXPECT_TRUE(text.stopped());
  EXPECT_TRUE(text.feed("more").empty());
  EXPECT_TRUE(text.finish().empty());

  OutputText plain(OutputTextOptions{});
  EXPECT_EQ(plain.feed("<think>a").content, "<think>a");  // no splitting asked
  EXPECT_TRUE(plain.finish().empty());
  EXPECT_TRUE(plain.feed("late").empty());
}

}  // namespace
}  // namespace mx
