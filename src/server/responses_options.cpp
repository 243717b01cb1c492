// The options of POST /v1/responses (responses_request.h): generation, reasoning, text format,
// tools, and the fields that are only echoed.
#include <fmt/format.h>

#include <array>
#include <limits>

#include "server/openai_request_parts.h"
#include "server/responses_request.h"

namespace mx::responses_detail {
namespace {

using json_fields::Check;
using json_fields::find;
using json_fields::Json;
using json_fields::show;
using json_fields::wrong_type;

ApiError bad(std::string message, std::string param) {
  return ApiError::bad_request(std::move(message), std::move(param));
}

// Fields that need stored state mxserve does not keep, or a mode it does not run.
Check refuse_unsupported(const Json& body) {
  if (find(body, "previous_response_id") != nullptr) {
    return bad(
        "previous_response_id is not supported: mxserve does not store responses; send "
        "the whole conversation in input (earlier output items included)",
        "previous_response_id");
  }
  if (find(body, "conversation") != nullptr) {
    return bad(
        "conversation is not supported: mxserve does not store conversations; send the "
        "whole conversation in input",
        "conversation");
  }
  bool background = false;
  if (auto e = json_fields::read_bool(body, "background", "background", background)) return e;
  if (background) {
    return bad(
        "background is not supported: mxserve does not store responses; stream instead "
        "(stream: true)",
        "background");
  }
  return std::nullopt;
}

// text: {format: {type: "text"}} (verbosity ignored); structured output is not offered.
Check read_text(const Json& body, Json& echo) {
  echo["text"] = Json{{"format", {{"type", "text"}}}};
  const Json* text = find(body, "text");
  if (text == nullptr) return std::nullopt;
  if (!text->is_object()) return wrong_type("text", "an object", *text);
  const Json* format = find(*text, "format");
  if (format == nullptr) return std::nullopt;
  if (!format->is_object()) return wrong_type("text.format", "an object", *format);
  const Json* type = find(*format, "type");
  if (type == nullptr || *type != "text") {
    return bad(fmt::format("text.format type {} is not supported: mxserve has no constrained "
                           "decoding; only {{\"type\": \"text\"}} is accepted",
                           type == nullptr ? "none" : show(*type)),
               "text.format");
  }
  return std::nullopt;
}

// reasoning.effort "none" or "minimal": thinking off (enable_thinking false, for templates that
// read it, such as Qwen3's) unless chat_template_kwargs says otherwise. Other efforts leave
// the template's default; the summary setting is ignored (no summaries are written).
Check read_reasoning(const Json& body, ResponsesRequest& out) {
  constexpr std::array<std::string_view, 6> kEfforts = {"none",   "minimal", "low",
                                                        "medium", "high",    "xhigh"};
  Json& kwargs = out.chat.chat_template_kwargs;
  if (const Json* given = find(body, "chat_template_kwargs")) {
    if (!given->is_object()) return wrong_type("chat_template_kwargs", "an object", *given);
    kwargs = *given;
  }
  out.echo["reasoning"] = Json{{"effort", nullptr}, {"summary", nullptr}};
  const Json* reasoning = find(body, "reasoning");
  if (reasoning == nullptr) return std::nullopt;
  if (!reasoning->is_object()) return wrong_type("reasoning", "an object", *reasoning);
  const Json* effort = find(*reasoning, "effort");
  if (effort == nullptr) return std::nullopt;
  if (!effort->is_string() || std::find(kEfforts.begin(), kEfforts.end(),
                                        effort->get_ref<const std::string&>()) == kEfforts.end()) {
    return bad(fmt::format("reasoning.effort must be one of none, minimal, low, medium, high, "
                           "xhigh, got {}",
                           show(*effort)),
               "reasoning.effort");
  }
  out.echo["reasoning"]["effort"] = *effort;
  const bool off = *effort == "none" || *effort == "minimal";
  if (off && !kwargs.contains("enable_thinking")) kwargs["enable_thinking"] = false;
  return std::nullopt;
}

// metadata (string values), user, store: accepted and echoed.
Check read_echoed(const Json& body, Json& echo) {
  echo["metadata"] = Json::object();
  if (const Json* metadata = find(body, "metadata")) {
    if (!metadata->is_object()) return wrong_type("metadata", "an object of strings", *metadata);
    for (const auto& [key, value] : metadata->items()) {
      if (!value.is_string()) return wrong_type("metadata." + key, "a string", value);
    }
    echo["metadata"] = *metadata;
  }
  if (const Json* user = find(body, "user")) {
    if (!user->is_string()) return wrong_type("user", "a string", *user);
    echo["user"] = *user;
  }
  bool store = false;
  if (auto e = json_fields::read_bool(body, "store", "store", store)) return e;
  echo["store"] = false;  // nothing is stored, whatever was asked
  echo["previous_response_id"] = nullptr;
  echo["truncation"] = "disabled";
  return std::nullopt;
}

// A chat-tools error names the chat path (tools[0].function.name); say the Responses one.
ApiError responses_path(ApiError error) {
  for (std::string* text : {&error.param, &error.message}) {
    for (size_t at; (at = text->find(".function.")) != std::string::npos;) {
      text->erase(at, std::string_view(".function").size());
    }
  }
  return error;
}

}  // namespace

Check read_options(const Json& body, ResponsesRequest& out) {
  GenerationRequest& generation = out.chat.generation;
  if (auto e = refuse_unsupported(body)) return e;
  if (auto e = json_fields::read_string(body, "model", "model", generation.model)) return e;
  if (auto e = json_fields::read_bool(body, "stream", "stream", generation.stream)) return e;
  out.echo["max_output_tokens"] = nullptr;
  if (find(body, "max_output_tokens") != nullptr) {
    int64_t max_tokens = 0;
    if (auto e = json_fields::read_int(body, "max_output_tokens", "max_output_tokens", 1,
                                       std::numeric_limits<int32_t>::max(), max_tokens)) {
      return e;
    }
    generation.max_tokens = static_cast<int32_t>(max_tokens);
    out.echo["max_output_tokens"] = max_tokens;
  }
  if (auto e = json_fields::read_bool(body, "ignore_eos", "ignore_eos", generation.ignore_eos)) {
    return e;
  }
  if (auto e = openai_detail::read_sampling_fields(body, generation.sampling)) return e;
  const Json* temperature = find(body, "temperature");
  const Json* top_p = find(body, "top_p");
  out.echo["temperature"] = temperature != nullptr ? *temperature : Json(1.0);
  out.echo["top_p"] = top_p != nullptr ? *top_p : Json(1.0);
  if (auto e = read_text(body, out.echo)) return e;
  if (auto e = read_reasoning(body, out)) return e;
  return read_echoed(body, out.echo);
}

Check read_tools(const Json& body, ResponsesRequest& out) {
  Json chat_body = Json::object();
  const Json* tools = find(body, "tools");
  out.echo["tools"] = Json::array();
  if (tools != nullptr) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    Json chat_tools = Json::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& tool = (*tools)[i];
      const std::string path = fmt::format("tools[{}]", i);
      if (!tool.is_object()) return wrong_type(path, "an object", tool);
      const Json* type = find(tool, "type");
      if (type == nullptr || *type != "function") {
        return bad(fmt::format("{}.type {} is not supported: only function tools {{\"type\": "
                               "\"function\", \"name\", \"parameters\"}} are served",
                               path, type == nullptr ? "none" : show(*type)),
                   path + ".type");
      }
      Json function = Json::object();
      for (const char* key : {"name", "description", "parameters"}) {
        if (const Json* value = find(tool, key)) function[key] = *value;
      }
      chat_tools.push_back(Json{{"type", "function"}, {"function", std::move(function)}});
    }
    chat_body["tools"] = std::move(chat_tools);
    out.echo["tools"] = *tools;
  }
  out.echo["tool_choice"] = "auto";
  if (const Json* choice = find(body, "tool_choice")) {
    out.echo["tool_choice"] = *choice;
    chat_body["tool_choice"] = *choice;
    const Json* type = choice->is_object() ? find(*choice, "type") : nullptr;
    const Json* name = choice->is_object() ? find(*choice, "name") : nullptr;
    const bool named = type != nullptr && *type == "function" && name != nullptr;
    const bool mode = *choice == "none" || *choice == "auto" || *choice == "required";
    if (!named && !mode) {
      return bad(fmt::format("tool_choice must be \"none\", \"auto\", \"required\" or "
                             "{{\"type\": \"function\", \"name\": ...}}, got {}",
                             show(*choice)),
                 "tool_choice");
    }
    if (named) chat_body["tool_choice"] = {{"type", "function"}, {"function", {{"name", *name}}}};
  }
  if (const Json* parallel = find(body, "parallel_tool_calls")) {
    chat_body["parallel_tool_calls"] = *parallel;
  }
  if (auto e = openai_detail::read_chat_tools(chat_body, out.chat)) return responses_path(*e);
  out.echo["parallel_tool_calls"] = out.chat.parallel_tool_calls;
  return std::nullopt;
}

}  // namespace mx::responses_detail
