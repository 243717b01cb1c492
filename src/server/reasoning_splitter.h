// ReasoningSplitter: splits a generation's text into reasoning_content (inside <think>…</think>)
// and content, incrementally: tags may be split across pieces, so text that could still be the
// start of a tag is held back until the next piece decides.
//
// What it does, as Qwen3's and DeepSeek-R1's reasoning parsers in vLLM / SGLang do, with these
// choices made explicit:
// - An opening tag counts only at the very start of the output (leading whitespace before it is
//   dropped). Text that starts otherwise is content, or reasoning when `starts_in_reasoning`
//   (templates that end the prompt with "<think>": DeepSeek-R1, Qwen3 with thinking forced); an
//   opening tag the model still writes itself is then swallowed. A "<think>" later in the text is
//   ordinary text: it is the model writing about the tag.
// - Reasoning ends at the first closing tag; everything after it is content, with further tags
//   left as text. A generation that ends inside reasoning is all reasoning (DeepSeek-R1 parser).
// - Whitespace (space, tab, CR, LF) at the start and end of the reasoning, and at the start of
//   the content after the closing tag, is dropped: Qwen3 writes "<think>\n…\n</think>\n\n…", and
//   its chat template strips exactly these newlines when it renders the history
//   (reasoning_content.strip('\n'), content.lstrip('\n')), as SGLang's parser strips the content.
//   vLLM keeps them; clients display the text either way.
// The concatenated outputs never depend on how the text was cut into pieces.
#pragma once

#include <string>
#include <string_view>

namespace mx {

struct ReasoningOptions {
  bool starts_in_reasoning = false;
  std::string open_tag = "<think>";
  std::string close_tag = "</think>";
};

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
};

class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(ReasoningOptions options = {});

  ReasoningDelta feed(std::string_view piece);
  // Flushes what is held back at the end of the generation.
  ReasoningDelta finish();

  // True while the text fed so far ends inside reasoning (before any text decides it, when
  // starts_in_reasoning): the caller counts the tokens fed meanwhile as reasoning tokens.
  bool in_reasoning() const {
    return state_ == State::kReasoning || (state_ == State::kStart && options_.starts_in_reasoning);
  }

 private:
  enum class State { kStart, kReasoning, kContent };

  void process(ReasoningDelta& out);
  bool process_start(ReasoningDelta& out);
  bool process_reasoning(ReasoningDelta& out);
  void emit_reasoning(std::string_view text, ReasoningDelta& out);
  void emit_content(std::string_view text, ReasoningDelta& out);

  ReasoningOptions options_;
  State state_ = State::kStart;
  std::string pending_;             // text not yet classified
  bool reasoning_started_ = false;  // non-whitespace reasoning emitted (leading strip done)
  bool content_started_ = true;     // false right after the closing tag (leading strip)
};

}  // namespace mx
