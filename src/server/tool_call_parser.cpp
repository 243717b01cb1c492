#include "server/tool_call_parser.h"

#include <random>
#include <utility>

#include "server/text_match.h"
#include "server/tool_call_formats.h"

namespace mx {

using text_match::partial_suffix_length;
using text_match::skip_space;
using text_match::trailing_space_start;
namespace formats = tool_call_formats;

ToolCallFormat detect_tool_call_format(std::string_view chat_template) {
  auto has = [&](std::string_view needle) {
    return chat_template.find(needle) != std::string_view::npos;
  };
  if (has(formats::kDeepSeekCallBegin)) return ToolCallFormat::kDeepSeekV3;
  // GLM-4.5 also writes <tool_call>, but with <arg_key>/<arg_value> pairs instead of JSON.
  if (has(formats::kHermesOpen) && !has("<arg_key>")) return ToolCallFormat::kHermes;
  if (has("<|start_header_id|>") && (has(formats::kLlamaPythonTag) || has("\"parameters\""))) {
    return ToolCallFormat::kLlama3Json;
  }
  return ToolCallFormat::kNone;
}

const char* tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kNone:
      return "none";
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kDeepSeekV3:
      return "deepseek_v3";
    case ToolCallFormat::kLlama3Json:
      return "llama3_json";
  }
  return "unknown";
}

std::string random_tool_call_id() {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(rng)];
  return id;
}

ToolCallParser::ToolCallParser(ToolCallFormat format, IdGenerator make_id)
    : format_(format), make_id_(std::move(make_id)) {
  if (!make_id_) make_id_ = random_tool_call_id;
  if (format_ == ToolCallFormat::kHermes) {
    open_marker_ = formats::kHermesOpen;
    close_marker_ = formats::kHermesClose;
  } else if (format_ == ToolCallFormat::kDeepSeekV3) {
    open_marker_ = formats::kDeepSeekCallsBegin;
    close_marker_ = formats::kDeepSeekCallsEnd;
  } else if (format_ == ToolCallFormat::kLlama3Json) {
    state_ = State::kLlamaUndecided;
  }
}

ToolCallOutput ToolCallParser::feed(std::string_view piece) {
  ToolCallOutput out;
  pending_.append(piece);
  process(out);
  return out;
}

void ToolCallParser::process(ToolCallOutput& out) {
  // Each step consumes pending_ text and moves on (true), or holds the rest (false).
  bool more = true;
  while (more) {
    switch (state_) {
      case State::kContent:
        more = process_content(out);
        break;
      case State::kInCall:
        more = process_call(out);
        break;
      case State::kLlamaUndecided:
        more = process_llama_start(out);
        break;
      case State::kLlamaBuffering:
        more = false;  // only the whole output tells: decided in finish()
        break;
    }
  }
}

bool ToolCallParser::process_content(ToolCallOutput& out) {
  if (open_marker_.empty()) {
    emit_content(pending_, out);
    pending_.clear();
    return false;
  }
  const size_t at = pending_.find(open_marker_);
  if (at != std::string::npos) {
    const size_t space_start = trailing_space_start(pending_, at);
    emit_content(std::string_view(pending_).substr(0, space_start), out);
    space_before_call_ = pending_.substr(space_start, at - space_start);
    pending_.erase(0, at + open_marker_.size());
    state_ = State::kInCall;
    return true;
  }
  // Hold a possible start of the marker and the whitespace before it (dropped if a call
  // follows).
  const size_t partial = pending_.size() - partial_suffix_length(pending_, open_marker_);
  const size_t keep_from = trailing_space_start(pending_, partial);
  emit_content(std::string_view(pending_).substr(0, keep_from), out);
  pending_.erase(0, keep_from);
  return false;
}

bool ToolCallParser::process_call(ToolCallOutput& out) {
  // Search only the new text (and the marker's length before it): a long call body must not
  // make every token rescan all of it.
  const size_t overlap = close_marker_.size() - 1;
  const size_t from = call_scanned_ > overlap ? call_scanned_ - overlap : 0;
  if (pending_.find(close_marker_, from) == std::string::npos) {
    call_scanned_ = pending_.size();
    return false;
  }
  finish_call(/*at_end=*/false, out);
  return true;
}

// Parses the call body in pending_ (up to the close marker, or all of it at the end); on
// failure the text goes out as content, as written.
void ToolCallParser::finish_call(bool at_end, ToolCallOutput& out) {
  const size_t close = pending_.find(close_marker_);
  const size_t body_end = close == std::string::npos ? pending_.size() : close;
  const size_t consumed =
      close == std::string::npos ? pending_.size() : close + close_marker_.size();
  const std::string_view body = std::string_view(pending_).substr(0, body_end);
  std::optional<std::vector<ToolCall>> calls;
  if (format_ == ToolCallFormat::kHermes) {
    if (std::optional<ToolCall> call = formats::parse_hermes(body)) calls.emplace({*call});
  } else {
    calls = formats::parse_deepseek(body, at_end || close == std::string::npos);
  }
  if (calls) {
    add_calls(std::move(*calls), out);
  } else {
    emit_content(space_before_call_ + open_marker_ + pending_.substr(0, consumed), out);
  }
  space_before_call_.clear();
  call_scanned_ = 0;
  pending_.erase(0, consumed);
  state_ = State::kContent;
}

bool ToolCallParser::process_llama_start(ToolCallOutput& out) {
  (void)out;
  const std::string_view rest = std::string_view(pending_).substr(skip_space(pending_));
  if (rest.empty()) return false;
  const std::string_view tag = formats::kLlamaPythonTag;
  if (rest.starts_with(tag)) {
    state_ = State::kLlamaBuffering;
    return true;
  }
  if (tag.starts_with(rest)) return false;
  if (rest[0] == '{') {
    // A call's first key is "name" (or "type": {"type": "function", "name": ...}); any other
    // object is content and streams at once.
    const size_t key = skip_space(rest, 1);
    if (key == rest.size()) return false;
    if (rest[key] == '"') {
      const size_t key_end = rest.find('"', key + 1);
      if (key_end == std::string_view::npos) {
        if (rest.size() - key < 8) return false;  // longer than any key we accept: content
      } else {
        const std::string_view name = rest.substr(key + 1, key_end - key - 1);
        if (name == "name" || name == "type") {
          state_ = State::kLlamaBuffering;
          return true;
        }
      }
    }
  }
  state_ = State::kContent;  // open_marker_ is empty: everything streams as content
  return true;
}

void ToolCallParser::emit_content(std::string_view text, ToolCallOutput& out) {
  if (after_call_) {
    text.remove_prefix(skip_space(text));
    if (text.empty()) return;
    after_call_ = false;
  }
  out.content.append(text);
}

void ToolCallParser::add_calls(std::vector<ToolCall> calls, ToolCallOutput& out) {
  for (ToolCall& call : calls) {
    call.id = make_id_();
    out.calls.push_back(
        ToolCallDelta{static_cast<int32_t>(calls_.size()), call.id, call.name, call.arguments});
    calls_.push_back(std::move(call));
  }
  after_call_ = true;
}

ToolCallOutput ToolCallParser::finish() {
  ToolCallOutput out;
  switch (state_) {
    case State::kContent:
    case State::kLlamaUndecided:
      emit_content(pending_, out);
      break;
    case State::kInCall:
      finish_call(/*at_end=*/true, out);
      break;
    case State::kLlamaBuffering:
      if (auto calls = formats::parse_llama3(pending_)) {
        add_calls(std::move(*calls), out);
      } else {
        emit_content(pending_, out);
      }
      break;
  }
  pending_.clear();
  state_ = State::kContent;
  open_marker_.clear();  // later feeds (there should be none) pass through
  return out;
}

}  // namespace mx
