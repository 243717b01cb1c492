#include "server/reasoning_splitter.h"

#include <utility>

#include "server/text_match.h"

namespace mx {

using text_match::partial_suffix_length;
using text_match::skip_space;
using text_match::trailing_space_start;

ReasoningSplitter::ReasoningSplitter(ReasoningOptions options) : options_(std::move(options)) {}

ReasoningDelta ReasoningSplitter::feed(std::string_view piece) {
  ReasoningDelta out;
  pending_.append(piece);
  process(out);
  return out;
}

void ReasoningSplitter::process(ReasoningDelta& out) {
  // Each step either consumes pending_ text and moves on, or holds the rest and stops.
  while (true) {
    if (state_ == State::kStart) {
      if (!process_start(out)) return;
    } else if (state_ == State::kReasoning) {
      if (!process_reasoning(out)) return;
    } else {
      emit_content(pending_, out);
      pending_.clear();
      return;
    }
  }
}

// Before anything is decided: leading whitespace, then the opening tag or anything else.
bool ReasoningSplitter::process_start(ReasoningDelta& out) {
  const std::string_view open = options_.open_tag;
  const size_t begin = skip_space(pending_);
  const std::string_view rest = std::string_view(pending_).substr(begin);
  if (rest.starts_with(open)) {
    pending_.erase(0, begin + open.size());
    state_ = State::kReasoning;
    return true;
  }
  if (open.starts_with(rest)) return false;  // could still become the tag (or is empty)
  state_ = options_.starts_in_reasoning ? State::kReasoning : State::kContent;
  (void)out;
  return true;
}

bool ReasoningSplitter::process_reasoning(ReasoningDelta& out) {
  const std::string_view close = options_.close_tag;
  const size_t at = pending_.find(close);
  if (at != std::string::npos) {
    emit_reasoning(std::string_view(pending_).substr(0, trailing_space_start(pending_, at)), out);
    pending_.erase(0, at + close.size());
    state_ = State::kContent;
    content_started_ = false;
    return true;
  }
  // Hold a possible start of the closing tag and the whitespace before it (dropped if the tag
  // follows).
  const size_t partial = pending_.size() - partial_suffix_length(pending_, close);
  const size_t keep_from = trailing_space_start(pending_, partial);
  emit_reasoning(std::string_view(pending_).substr(0, keep_from), out);
  pending_.erase(0, keep_from);
  return false;
}

void ReasoningSplitter::emit_reasoning(std::string_view text, ReasoningDelta& out) {
  if (!reasoning_started_) {
    text.remove_prefix(skip_space(text));
    if (text.empty()) return;
    reasoning_started_ = true;
  }
  out.reasoning.append(text);
}

void ReasoningSplitter::emit_content(std::string_view text, ReasoningDelta& out) {
  if (!content_started_) {
    text.remove_prefix(skip_space(text));
    if (text.empty()) return;
    content_started_ = true;
  }
  out.content.append(text);
}

ReasoningDelta ReasoningSplitter::finish() {
  ReasoningDelta out;
  switch (state_) {
    case State::kStart:
      // Only whitespace or the start of an opening tag came: that is the answer's text.
      if (options_.starts_in_reasoning) {
        emit_reasoning(pending_, out);
      } else {
        emit_content(pending_, out);
      }
      break;
    case State::kReasoning:
      // Ended inside reasoning: the held text is reasoning (a cut tag included), minus trailing
      // whitespace.
      emit_reasoning(
          std::string_view(pending_).substr(0, trailing_space_start(pending_, pending_.size())),
          out);
      break;
    case State::kContent:
      emit_content(pending_, out);
      break;
  }
  pending_.clear();
  return out;
}

}  // namespace mx
