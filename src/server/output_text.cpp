#include "server/output_text.h"

#include <utility>

namespace mx {

namespace {

ReasoningOptions reasoning_options(const OutputTextOptions& options) {
  ReasoningOptions reasoning;
  reasoning.starts_in_reasoning = options.starts_in_reasoning;
  return reasoning;
}

void append(ToolCallOutput tools, OutputDelta& out) {
  out.content += tools.content;
  for (ToolCallDelta& call : tools.calls) out.tool_calls.push_back(std::move(call));
}

}  // namespace

OutputText::OutputText(OutputTextOptions options)
    : split_reasoning_(options.split_reasoning),
      stop_(std::move(options.stop)),
      reasoning_(reasoning_options(options)),
      tools_(options.tool_call_format, std::move(options.make_tool_call_id)) {}

void OutputText::pass_on(std::string_view text, OutputDelta& out) {
  if (text.empty()) return;
  if (!split_reasoning_) {
    append(tools_.feed(text), out);
    return;
  }
  ReasoningDelta split = reasoning_.feed(text);
  out.reasoning += split.reasoning;
  append(tools_.feed(split.content), out);
}

void OutputText::flush(OutputDelta& out) {
  finished_ = true;
  if (split_reasoning_) {
    ReasoningDelta split = reasoning_.finish();
    out.reasoning += split.reasoning;
    append(tools_.feed(split.content), out);
  }
  append(tools_.finish(), out);
}

OutputDelta OutputText::feed(std::string_view piece) {
  OutputDelta out;
  if (finished_) return out;
  pass_on(stop_.feed(piece), out);
  if (stop_.stopped()) {
    out.stopped = true;
    flush(out);
  }
  return out;
}

OutputDelta OutputText::finish() {
  OutputDelta out;
  if (finished_) return out;
  pass_on(stop_.finish(), out);
  flush(out);
  return out;
}

}  // namespace mx
