#include "server/tool_call_formats.h"

#include <nlohmann/json.hpp>

#include "server/json_fields.h"
#include "server/openai_request.h"
#include "server/text_match.h"

namespace mx::tool_call_formats {
namespace {

using Json = nlohmann::ordered_json;
using text_match::skip_space;
using text_match::trim;

// A JSON object (key order kept), or nullopt; parsed in linear time with the request bounds.
std::optional<Json> parse_object(std::string_view text) {
  Result<Json> value = parse_json_bounded(text, kRequestJsonLimits, "tool call");
  if (!value.ok() || !value->is_object()) return std::nullopt;
  return std::move(*value);
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Arguments as JSON text: an object, or a string holding one; absent means {}.
std::optional<std::string> arguments_text(const Json* arguments) {
  if (arguments == nullptr || arguments->is_null()) return std::string("{}");
  if (arguments->is_object()) return dump(*arguments);
  if (arguments->is_string()) {
    if (std::optional<Json> parsed = parse_object(arguments->get_ref<const std::string&>())) {
      return dump(*parsed);
    }
  }
  return std::nullopt;
}

// {"name": N, <arguments key>: {...}} with arguments under "arguments" or "parameters".
std::optional<ToolCall> call_from_object(const Json& object) {
  auto name = object.find("name");
  if (name == object.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  const Json* arguments = nullptr;
  for (const char* key : {"arguments", "parameters"}) {
    if (auto it = object.find(key); it != object.end()) arguments = &*it;
  }
  std::optional<std::string> text = arguments_text(arguments);
  if (!text) return std::nullopt;
  return ToolCall{{}, name->get<std::string>(), std::move(*text)};
}

// Index just past the '}' closing the object that starts at `start`, or npos.
size_t object_end(std::string_view text, size_t start) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// One call's text between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>.
std::optional<ToolCall> parse_deepseek_call(std::string_view segment) {
  const size_t sep = segment.find(kDeepSeekSep);
  if (sep == std::string_view::npos) return std::nullopt;
  const std::string_view head = trim(segment.substr(0, sep));
  std::string_view tail = trim(segment.substr(sep + kDeepSeekSep.size()));
  std::string_view name = head;  // V3.1: NAME<｜tool▁sep｜>{json}
  if (!tail.starts_with("{")) {
    // V3/R1: function<｜tool▁sep｜>NAME\n```json\n{json}\n```
    const size_t newline = tail.find('\n');
    if (newline == std::string_view::npos) return std::nullopt;
    name = trim(tail.substr(0, newline));
    tail = trim(tail.substr(newline + 1));
    if (!tail.starts_with("```") || !tail.ends_with("```") || tail.size() < 6) {
      return std::nullopt;
    }
    tail = tail.substr(3, tail.size() - 6);
    if (tail.starts_with("json")) tail.remove_prefix(4);
    tail = trim(tail);
  }
  std::optional<Json> arguments = parse_object(tail);
  if (name.empty() || !arguments) return std::nullopt;
  return ToolCall{{}, std::string(name), dump(*arguments)};
}

}  // namespace

std::optional<ToolCall> parse_hermes(std::string_view body) {
  std::optional<Json> object = parse_object(trim(body));
  if (!object) return std::nullopt;
  return call_from_object(*object);
}

std::optional<std::vector<ToolCall>> parse_deepseek(std::string_view body, bool at_end) {
  std::vector<ToolCall> calls;
  size_t pos = skip_space(body);
  while (pos < body.size()) {
    if (!body.substr(pos).starts_with(kDeepSeekCallBegin)) return std::nullopt;
    pos += kDeepSeekCallBegin.size();
    const size_t end = body.find(kDeepSeekCallEnd, pos);
    if (end == std::string_view::npos && !at_end) return std::nullopt;
    const size_t segment_end = end == std::string_view::npos ? body.size() : end;
    std::optional<ToolCall> call = parse_deepseek_call(body.substr(pos, segment_end - pos));
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    pos = end == std::string_view::npos ? body.size() : end + kDeepSeekCallEnd.size();
    pos = skip_space(body, pos);
  }
  if (calls.empty()) return std::nullopt;
  return calls;
}

std::optional<std::vector<ToolCall>> parse_llama3(std::string_view text) {
  text = trim(text);
  if (text.starts_with(kLlamaPythonTag)) text = trim(text.substr(kLlamaPythonTag.size()));
  std::vector<ToolCall> calls;
  size_t pos = 0;
  while (true) {
    if (pos >= text.size() || text[pos] != '{') return std::nullopt;
    const size_t end = object_end(text, pos);
    if (end == std::string_view::npos) return std::nullopt;
    std::optional<Json> object = parse_object(text.substr(pos, end - pos));
    if (!object) return std::nullopt;
    std::optional<ToolCall> call = call_from_object(*object);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    pos = skip_space(text, end);
    if (pos == text.size()) return calls;
    if (text[pos] != ';') return std::nullopt;
    pos = skip_space(text, pos + 1);
  }
}

}  // namespace mx::tool_call_formats
