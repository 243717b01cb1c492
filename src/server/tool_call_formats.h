// Internal to ToolCallParser: the parsers of one complete piece of model output per format.
// Each returns the calls (ids unset) or nullopt when the text is not a well-formed call, in
// which case the parser gives the text back as content.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "server/tool_call_parser.h"

namespace mx::tool_call_formats {

inline constexpr std::string_view kHermesOpen = "<tool_call>";
inline constexpr std::string_view kHermesClose = "</tool_call>";
// DeepSeek's special tokens: U+FF5C (EF BD 9C) bars, U+2581 (E2 96 81) in place of spaces.
inline constexpr std::string_view kDeepSeekCallsBegin = "<｜tool▁calls▁begin｜>";
inline constexpr std::string_view kDeepSeekCallsEnd = "<｜tool▁calls▁end｜>";
inline constexpr std::string_view kDeepSeekCallBegin = "<｜tool▁call▁begin｜>";
inline constexpr std::string_view kDeepSeekCallEnd = "<｜tool▁call▁end｜>";
inline constexpr std::string_view kDeepSeekSep = "<｜tool▁sep｜>";
inline constexpr std::string_view kLlamaPythonTag = "<|python_tag|>";

// The text between <tool_call> and </tool_call>: {"name": ..., "arguments": {...}}.
std::optional<ToolCall> parse_hermes(std::string_view body);
// The text between <｜tool▁calls▁begin｜> and <｜tool▁calls▁end｜>: one or more calls. With
// `at_end` (the generation ended inside the section) the last call may lack its end token.
std::optional<std::vector<ToolCall>> parse_deepseek(std::string_view body, bool at_end);
// A whole Llama 3 output: [<|python_tag|>] {"name": ..., "parameters": {...}} [; {...}]...
std::optional<std::vector<ToolCall>> parse_llama3(std::string_view text);

}  // namespace mx::tool_call_formats
