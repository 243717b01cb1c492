// The chat-specific parts of POST /v1/chat/completions: messages, tools, tool_choice.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "server/openai_request_parts.h"

namespace mx {
namespace openai_detail {
namespace {

using json_fields::find;
using json_fields::show;
using json_fields::wrong_type;

constexpr std::array<std::string_view, 5> kRoles = {"system", "developer", "user", "assistant",
                                                    "tool"};
constexpr size_t kMaxFunctionName = 64;

ApiError bad(std::string message, std::string_view param) {
  return ApiError::bad_request(std::move(message), std::string(param));
}

Check check_optional_string(const Json& object, std::string_view key, const std::string& path) {
  const Json* value = find(object, key);
  if (value != nullptr && !value->is_string()) {
    return wrong_type(fmt::format("{}.{}", path, key), "a string", *value);
  }
  return std::nullopt;
}

// content as an array of parts: only {"type": "text", "text": ...}; joined with "\n" into one
// string, as vLLM does for templates that take string content.
Check join_text_parts(const Json& parts, const std::string& path, std::string& out) {
  for (size_t i = 0; i < parts.size(); ++i) {
    const Json& part = parts[i];
    const std::string part_path = fmt::format("{}[{}]", path, i);
    if (!part.is_object()) return wrong_type(part_path, "an object", part);
    const Json* type = find(part, "type");
    if (type == nullptr || !type->is_string()) {
      return bad(fmt::format("{}.type must be \"text\"", part_path), part_path + ".type");
    }
    if (type->get_ref<const std::string&>() != "text") {
      return bad(fmt::format("{}.type {} is not supported: mxserve serves text-only models; "
                             "send {{\"type\": \"text\", \"text\": ...}} parts",
                             part_path, show(*type)),
                 part_path + ".type");
    }
    const Json* text = find(part, "text");
    if (text == nullptr || !text->is_string()) {
      return bad(fmt::format("{}.text must be a string", part_path), part_path + ".text");
    }
    if (i > 0) out += '\n';
    out += text->get_ref<const std::string&>();
  }
  return std::nullopt;
}

Check normalize_content(const Json& message, const std::string& path, bool is_assistant,
                        Json& out) {
  const Json* content = find(message, "content");
  const std::string content_path = path + ".content";
  if (content == nullptr) {
    if (!is_assistant) {
      return bad(fmt::format("{} is required: a string or an array of text parts", content_path),
                 content_path);
    }
    out["content"] = nullptr;  // assistant turns that only call tools
    return std::nullopt;
  }
  if (content->is_string()) return std::nullopt;
  if (!content->is_array()) {
    return wrong_type(content_path, "a string or an array of text parts", *content);
  }
  std::string joined;
  if (auto e = join_text_parts(*content, content_path, joined)) return e;
  out["content"] = std::move(joined);
  return std::nullopt;
}

// arguments arrive as a JSON string (OpenAI); templates want the value (vLLM parses it too).
Check normalize_arguments(Json& function, const std::string& path) {
  const Json* arguments = find(function, "arguments");
  const std::string arguments_path = path + ".arguments";
  if (arguments == nullptr) {
    function["arguments"] = Json::object();
    return std::nullopt;
  }
  if (arguments->is_object()) return std::nullopt;
  if (!arguments->is_string()) {
    return wrong_type(arguments_path, "a string holding a JSON object", *arguments);
  }
  const std::string& text = arguments->get_ref<const std::string&>();
  if (text.empty()) {
    function["arguments"] = Json::object();
    return std::nullopt;
  }
  Result<Json> parsed = parse_json_bounded(text, kRequestJsonLimits, arguments_path);
  if (!parsed.ok() || !parsed->is_object()) {
    return bad(fmt::format("{} must be a string holding a JSON object, got {}", arguments_path,
                           show(*arguments)),
               arguments_path);
  }
  function["arguments"] = std::move(*parsed);
  return std::nullopt;
}

Check normalize_tool_calls(const Json& message, const std::string& path, bool is_assistant,
                           Json& out) {
  const Json* calls = find(message, "tool_calls");
  if (calls == nullptr) return std::nullopt;
  const std::string calls_path = path + ".tool_calls";
  if (!is_assistant) {
    return bad(fmt::format("{} is only allowed in assistant messages", calls_path), calls_path);
  }
  if (!calls->is_array()) return wrong_type(calls_path, "an array", *calls);
  for (size_t i = 0; i < calls->size(); ++i) {
    const std::string call_path = fmt::format("{}[{}]", calls_path, i);
    const Json& call = (*calls)[i];
    if (!call.is_object()) return wrong_type(call_path, "an object", call);
    if (auto e = check_optional_string(call, "id", call_path)) return e;
    const Json* type = find(call, "type");
    if (type != nullptr && *type != "function") {
      return bad(fmt::format("{}.type must be \"function\", got {}", call_path, show(*type)),
                 call_path + ".type");
    }
    const Json* function = find(call, "function");
    const std::string function_path = call_path + ".function";
    if (function == nullptr || !function->is_object()) {
      return bad(
          fmt::format("{} must be an object {{\"name\": ..., \"arguments\": ...}}", function_path),
          function_path);
    }
    const Json* name = find(*function, "name");
    if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      return bad(fmt::format("{}.name must be a non-empty string", function_path),
                 function_path + ".name");
    }
    if (auto e = normalize_arguments(out["tool_calls"][i]["function"], function_path)) return e;
  }
  return std::nullopt;
}

Check read_message(const Json& message, size_t index, Json& out) {
  const std::string path = fmt::format("messages[{}]", index);
  if (!message.is_object()) return wrong_type(path, "an object {\"role\", \"content\"}", message);
  const Json* role = find(message, "role");
  if (role == nullptr || !role->is_string() ||
      std::find(kRoles.begin(), kRoles.end(), role->get_ref<const std::string&>()) ==
          kRoles.end()) {
    return bad(fmt::format("{}.role must be one of system, developer, user, assistant, tool, "
                           "got {}",
                           path, role == nullptr ? "none" : show(*role)),
               path + ".role");
  }
  const bool is_assistant = *role == "assistant";
  out = message;  // unknown keys stay: templates may read them
  if (auto e = normalize_content(message, path, is_assistant, out)) return e;
  for (const char* key : {"name", "tool_call_id", "reasoning_content"}) {
    if (auto e = check_optional_string(message, key, path)) return e;
  }
  return normalize_tool_calls(message, path, is_assistant, out);
}

bool is_valid_function_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxFunctionName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

Check read_tool(const Json& tool, size_t index, std::vector<std::string>& names) {
  const std::string path = fmt::format("tools[{}]", index);
  if (!tool.is_object()) return wrong_type(path, "an object", tool);
  const Json* type = find(tool, "type");
  if (type == nullptr || *type != "function") {
    return bad(fmt::format("{}.type must be \"function\" (the only tool type supported), got {}",
                           path, type == nullptr ? "none" : show(*type)),
               path + ".type");
  }
  const Json* function = find(tool, "function");
  const std::string function_path = path + ".function";
  if (function == nullptr || !function->is_object()) {
    return bad(fmt::format("{} must be an object {{\"name\", \"description\", \"parameters\"}}",
                           function_path),
               function_path);
  }
  const Json* name = find(*function, "name");
  if (name == nullptr || !name->is_string() || !is_valid_function_name(name->get<std::string>())) {
    return bad(fmt::format("{}.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_', '-' or "
                           "'.', got {}",
                           function_path, name == nullptr ? "none" : show(*name)),
               function_path + ".name");
  }
  if (auto e = check_optional_string(*function, "description", function_path)) return e;
  const Json* parameters = find(*function, "parameters");
  if (parameters != nullptr && !parameters->is_object()) {
    return wrong_type(function_path + ".parameters", "an object (a JSON Schema)", *parameters);
  }
  names.push_back(name->get<std::string>());
  return std::nullopt;
}

Check read_tool_choice(const Json& body, const std::vector<std::string>& tool_names,
                       ToolChoice& out) {
  out.mode = tool_names.empty() ? ToolChoiceMode::kNone : ToolChoiceMode::kAuto;
  const Json* choice = find(body, "tool_choice");
  if (choice == nullptr) return std::nullopt;
  constexpr const char* kAllowed =
      "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}";
  if (choice->is_string()) {
    const std::string& mode = choice->get_ref<const std::string&>();
    if (mode == "none") {
      out.mode = ToolChoiceMode::kNone;
    } else if (mode == "auto") {
      out.mode = tool_names.empty() ? ToolChoiceMode::kNone : ToolChoiceMode::kAuto;
    } else if (mode == "required") {
      out.mode = ToolChoiceMode::kRequired;
    } else {
      return bad(fmt::format("tool_choice must be {}, got {}", kAllowed, show(*choice)),
                 "tool_choice");
    }
  } else if (choice->is_object()) {
    const Json* type = find(*choice, "type");
    const Json* function = find(*choice, "function");
    const Json* name =
        function != nullptr && function->is_object() ? find(*function, "name") : nullptr;
    if (type == nullptr || *type != "function" || name == nullptr || !name->is_string()) {
      return bad(fmt::format("tool_choice must be {}, got {}", kAllowed, show(*choice)),
                 "tool_choice");
    }
    out.mode = ToolChoiceMode::kFunction;
    out.function_name = name->get<std::string>();
    if (std::find(tool_names.begin(), tool_names.end(), out.function_name) == tool_names.end()) {
      return bad(fmt::format("tool_choice names function {}, which is not in tools", show(*name)),
                 "tool_choice");
    }
  } else {
    return wrong_type("tool_choice", fmt::format("{}", kAllowed), *choice);
  }
  if (tool_names.empty() && out.mode != ToolChoiceMode::kNone) {
    return bad("tool_choice \"required\" or a named function needs tools", "tool_choice");
  }
  return std::nullopt;
}

}  // namespace

Check read_chat_messages(const Json& body, Json& out) {
  const Json* messages = find(body, "messages");
  if (messages == nullptr) {
    return bad("messages is required: a non-empty array of {\"role\", \"content\"} objects",
               "messages");
  }
  if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
  if (messages->empty()) return bad("messages must not be empty", "messages");
  out = Json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    Json message;
    if (auto e = read_message((*messages)[i], i, message)) return e;
    out.push_back(std::move(message));
  }
  return std::nullopt;
}

Check read_chat_tools(const Json& body, ChatCompletionRequest& out) {
  std::vector<std::string> names;
  if (const Json* tools = find(body, "tools")) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    for (size_t i = 0; i < tools->size(); ++i) {
      if (auto e = read_tool((*tools)[i], i, names)) return e;
    }
    if (!tools->empty()) out.tools = *tools;
  }
  if (auto e = read_tool_choice(body, names, out.tool_choice)) return e;
  return json_fields::read_bool(body, "parallel_tool_calls", "parallel_tool_calls",
                                out.parallel_tool_calls);
}

}  // namespace openai_detail

namespace {

using openai_detail::Check;
using openai_detail::Json;

Check read_chat_logprobs(const Json& body, SamplingParams& sampling) {
  if (auto e = json_fields::read_bool(body, "logprobs", "logprobs", sampling.logprobs)) return e;
  int64_t top = 0;
  if (auto e = json_fields::read_int(body, "top_logprobs", "top_logprobs", 0, 20, top)) return e;
  if (top > 0 && !sampling.logprobs) {
    return ApiError::bad_request("top_logprobs requires logprobs to be true", "top_logprobs");
  }
  sampling.top_logprobs = static_cast<int32_t>(top);
  return std::nullopt;
}

}  // namespace

ApiResult<ChatCompletionRequest> parse_chat_completion_request(std::string_view body) {
  ApiResult<Json> parsed = parse_request_json(body);
  if (!parsed.ok()) return std::move(parsed).error();
  const Json& json = *parsed;
  ChatCompletionRequest request;
  if (auto e = openai_detail::read_chat_messages(json, request.messages)) return *e;
  if (auto e = openai_detail::read_generation_fields(json, request.generation)) return *e;
  if (auto e = read_chat_logprobs(json, request.generation.sampling)) return *e;
  if (auto e = openai_detail::read_chat_tools(json, request)) return *e;
  if (const Json* kwargs = json_fields::find(json, "chat_template_kwargs")) {
    if (!kwargs->is_object()) {
      return json_fields::wrong_type("chat_template_kwargs", "an object", *kwargs);
    }
    request.chat_template_kwargs = *kwargs;
  }
  if (auto e = openai_detail::read_response_format(json)) return *e;
  return request;
}

nlohmann::ordered_json ChatCompletionRequest::template_input(bool add_generation_prompt) const {
  nlohmann::ordered_json input = {{"messages", messages}};
  if (!tools.is_null()) input["tools"] = tools;
  input["add_generation_prompt"] = add_generation_prompt;
  input["chat_template_kwargs"] = chat_template_kwargs;
  return input;
}

}  // namespace mx
