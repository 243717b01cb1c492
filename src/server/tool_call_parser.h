// ToolCallParser: finds the tool calls in a generation's content as it streams, for the three
// formats mxserve's models write (picked from the chat template by detect_tool_call_format):
//
//   kHermes      Qwen2.5/Qwen3, Hermes: <tool_call>\n{"name": N, "arguments": {...}}\n</tool_call>,
//                one block per call.
//   kDeepSeekV3  <｜tool▁calls▁begin｜> calls <｜tool▁calls▁end｜>, each call
//                V3/R1:
//                <｜tool▁call▁begin｜>function<｜tool▁sep｜>N\n```json\n{...}\n```<｜tool▁call▁end｜>
//                V3.1:   <｜tool▁call▁begin｜>N<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
//                (the bars are U+FF5C FULLWIDTH VERTICAL LINE, the spaces U+2581 LOWER ONE EIGHTH
//                BLOCK: the tokenizer's special tokens, kept in the text by the detokenizer).
//   kLlama3Json  Llama 3.1/3.2: the whole output is {"name": N, "parameters": {...}} (or several
//                joined by ';'), optionally after <|python_tag|>.
//
// Content outside the calls streams through as content; text that could still begin a call is
// held back. Whitespace next to a call (the newlines between blocks) is dropped. Each completed
// call becomes a ToolCall {id "call_…", name, arguments as JSON text} and one ToolCallDelta
// carrying all of it (index, id, name, arguments): arguments are not streamed piecewise. Text
// that does not parse as a call is given back as content, exactly as written: never an error.
// Llama 3 output that starts like a call is held until finish(), since only the whole output
// tells.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mx {

enum class ToolCallFormat { kNone, kHermes, kDeepSeekV3, kLlama3Json };

// From a chat template's source: the format its tool-call examples use, or kNone (no tools, or a
// format not parsed here, such as GLM-4.5's <arg_key> or Kimi-K2's <|tool_call_begin|>).
ToolCallFormat detect_tool_call_format(std::string_view chat_template);
const char* tool_call_format_name(ToolCallFormat format);

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text of the arguments object
};

// One streaming update of a call, as in chat.completion.chunk's delta.tool_calls[]: the first
// for a call has id and name set; later ones (none today) only more arguments text.
struct ToolCallDelta {
  int32_t index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

struct ToolCallOutput {
  std::string content;
  std::vector<ToolCallDelta> calls;
};

// "call_" followed by 24 random letters and digits (as OpenAI's ids look).
std::string random_tool_call_id();

class ToolCallParser {
 public:
  using IdGenerator = std::function<std::string()>;

  explicit ToolCallParser(ToolCallFormat format, IdGenerator make_id = random_tool_call_id);

  ToolCallOutput feed(std::string_view piece);
  // End of generation: a call cut short is parsed if its text is complete enough, else given
  // back as content.
  ToolCallOutput finish();

  const std::vector<ToolCall>& calls() const { return calls_; }

 private:
  enum class State { kContent, kInCall, kLlamaUndecided, kLlamaBuffering };

  void process(ToolCallOutput& out);
  bool process_content(ToolCallOutput& out);
  bool process_call(ToolCallOutput& out);
  bool process_llama_start(ToolCallOutput& out);
  void emit_content(std::string_view text, ToolCallOutput& out);
  void add_calls(std::vector<ToolCall> calls, ToolCallOutput& out);
  void finish_call(bool at_end, ToolCallOutput& out);

  ToolCallFormat format_;
  IdGenerator make_id_;
  State state_ = State::kContent;
  std::string open_marker_;        // "<tool_call>", "<｜tool▁calls▁begin｜>"
  std::string close_marker_;       // "</tool_call>", "<｜tool▁calls▁end｜>"
  std::string pending_;            // text not yet classified (content or a call's body)
  std::string space_before_call_;  // whitespace dropped before the call being read
  size_t call_scanned_ = 0;        // bytes of a call body already searched for close_marker_
  bool after_call_ = false;        // drop whitespace that follows a call
  std::vector<ToolCall> calls_;
};

}  // namespace mx
