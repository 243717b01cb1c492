// OutputText: the text post-processing of one generation (one choice), fed the decoded text
// pieces as tokens arrive, in the order a response needs them:
//
//   decoded piece → StopMatcher → ReasoningSplitter → ToolCallParser → OutputDelta
//
// Stop strings are matched on the raw text (reasoning included, as vLLM does), reasoning is split
// off next, and tool calls are parsed from the content only. Each stage holds back just the text
// it cannot classify yet, so the deltas can be streamed as they come; finish() flushes all
// stages at the end of the generation. When a stop string matches, the text before it is
// processed, every stage is flushed, and the delta reports `stopped` (the caller ends the
// generation with finish_reason "stop"); later feeds return nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/reasoning_splitter.h"
#include "server/stop_matcher.h"
#include "server/tool_call_parser.h"

namespace mx {

struct OutputTextOptions {
  std::vector<std::string> stop;
  bool split_reasoning = false;      // <think>…</think> → reasoning_content
  bool starts_in_reasoning = false;  // the prompt ends inside <think> (see ReasoningSplitter)
  // detect_tool_call_format(template); kNone: no tool-call parsing (also the right choice when
  // the request has no tools or tool_choice "none").
  ToolCallFormat tool_call_format = ToolCallFormat::kNone;
  ToolCallParser::IdGenerator make_tool_call_id;  // empty: random_tool_call_id
};

struct OutputDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;
  bool stopped = false;  // a stop string matched in this feed

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

class OutputText {
 public:
  explicit OutputText(OutputTextOptions options);

  OutputDelta feed(std::string_view piece);
  // End of generation (EOS, length, abort); does nothing after a stop or a previous finish().
  OutputDelta finish();

  bool stopped() const { return stop_.stopped(); }
  // Whether the text fed so far ends inside reasoning: ask after each token's feed() to count
  // usage.completion_tokens_details.reasoning_tokens.
  bool in_reasoning() const { return split_reasoning_ && reasoning_.in_reasoning(); }
  // The completed tool calls so far (all of them after finish()).
  const std::vector<ToolCall>& tool_calls() const { return tools_.calls(); }

 private:
  void pass_on(std::string_view text, OutputDelta& out);
  void flush(OutputDelta& out);

  bool split_reasoning_;
  StopMatcher stop_;
  ReasoningSplitter reasoning_;
  ToolCallParser tools_;
  bool finished_ = false;
};

}  // namespace mx
