#include "server/responses_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "server/openai_request_parts.h"

namespace mx {
namespace {

using json_fields::Check;
using json_fields::find;
using json_fields::Json;
using json_fields::show;
using json_fields::wrong_type;

ApiError bad(std::string message, std::string param) {
  return ApiError::bad_request(std::move(message), std::move(param));
}

// A required string member of an input item.
Check required_string(const Json& item, std::string_view key, const std::string& path,
                      std::string& out) {
  const Json* value = find(item, key);
  if (value == nullptr) return bad(fmt::format("{}.{} is required", path, key), path);
  if (!value->is_string()) return wrong_type(fmt::format("{}.{}", path, key), "a string", *value);
  out = value->get<std::string>();
  return std::nullopt;
}

// content: a string, or text parts (input_text / output_text; refusals skipped) joined by "\n".
Check read_content(const Json& item, const std::string& path, std::string& out) {
  const Json* content = find(item, "content");
  const std::string content_path = path + ".content";
  if (content == nullptr) return bad(content_path + " is required", content_path);
  if (content->is_string()) {
    out = content->get<std::string>();
    return std::nullopt;
  }
  if (!content->is_array()) {
    return wrong_type(content_path, "a string or an array of input_text parts", *content);
  }
  bool first = true;
  for (size_t i = 0; i < content->size(); ++i) {
    const Json& part = (*content)[i];
    const std::string part_path = fmt::format("{}[{}]", content_path, i);
    if (!part.is_object()) return wrong_type(part_path, "an object", part);
    const Json* type = find(part, "type");
    const std::string kind = type != nullptr && type->is_string() ? type->get<std::string>() : "";
    if (kind == "refusal") continue;
    if (kind != "input_text" && kind != "output_text" && kind != "text") {
      return bad(fmt::format("{}.type {} is not supported: mxserve serves text-only models; send "
                             "{{\"type\": \"input_text\", \"text\": ...}} parts",
                             part_path, type == nullptr ? "none" : show(*type)),
                 part_path + ".type");
    }
    std::string text;
    if (auto e = required_string(part, "text", part_path, text)) return e;
    if (!first) out += '\n';
    out += text;
    first = false;
  }
  return std::nullopt;
}

// The state of the conversion: the chat messages so far and reasoning waiting for the next
// assistant turn.
struct Conversation {
  Json messages = Json::array();
  std::string reasoning;

  // The assistant message a function call joins: the last message if it is the assistant's.
  Json& assistant_turn() {
    if (messages.empty() || messages.back()["role"] != "assistant") {
      // content "", not null: templates such as Qwen3's test `'</think>' in content`.
      add(Json{{"role", "assistant"}, {"content", ""}});
    }
    return messages.back();
  }
  void add(Json message) {
    if (message["role"] == "assistant" && !reasoning.empty()) {
      message["reasoning_content"] = std::move(reasoning);
      reasoning.clear();
    }
    messages.push_back(std::move(message));
  }
};

Check read_message(const Json& item, const std::string& path, Conversation& out) {
  constexpr std::array<std::string_view, 4> kRoles = {"user", "system", "developer", "assistant"};
  const Json* role = find(item, "role");
  if (role == nullptr || !role->is_string() ||
      std::find(kRoles.begin(), kRoles.end(), role->get_ref<const std::string&>()) ==
          kRoles.end()) {
    return bad(fmt::format("{}.role must be one of user, system, developer, assistant, got {}",
                           path, role == nullptr ? "none" : show(*role)),
               path + ".role");
  }
  std::string content;
  if (auto e = read_content(item, path, content)) return e;
  out.add(Json{{"role", *role}, {"content", std::move(content)}});
  return std::nullopt;
}

Check read_function_call(const Json& item, const std::string& path, Conversation& out) {
  std::string call_id, name, arguments;
  if (auto e = required_string(item, "call_id", path, call_id)) return e;
  if (auto e = required_string(item, "name", path, name)) return e;
  if (auto e = required_string(item, "arguments", path, arguments)) return e;
  // Templates take the arguments as a value (see chat_request.cpp).
  Json parsed = Json::object();
  if (!arguments.empty()) {
    parsed = Json::parse(arguments, nullptr, /*allow_exceptions=*/false);
    if (json_fields::nests_deeper_than(arguments, kMaxRequestJsonDepth) || parsed.is_discarded() ||
        !parsed.is_object()) {
      return bad(fmt::format("{}.arguments must be a string holding a JSON object, got {}", path,
                             show(Json(arguments))),
                 path + ".arguments");
    }
  }
  Json& turn = out.assistant_turn();
  turn["tool_calls"].push_back(
      Json{{"id", call_id},
           {"type", "function"},
           {"function", {{"name", name}, {"arguments", std::move(parsed)}}}});
  return std::nullopt;
}

Check read_function_call_output(const Json& item, const std::string& path, Conversation& out) {
  std::string call_id, output;
  if (auto e = required_string(item, "call_id", path, call_id)) return e;
  const Json* value = find(item, "output");
  if (value != nullptr && value->is_array()) {
    if (auto e = read_content(Json{{"content", *value}}, path, output)) return e;
  } else if (auto e = required_string(item, "output", path, output)) {
    return e;
  }
  out.add(Json{{"role", "tool"}, {"tool_call_id", call_id}, {"content", std::move(output)}});
  return std::nullopt;
}

// A reasoning item given back: its text (content, else the summary) becomes the next assistant
// message's reasoning_content.
void read_reasoning_item(const Json& item, Conversation& out) {
  for (const char* key : {"content", "summary"}) {
    const Json* parts = find(item, key);
    if (parts == nullptr || !parts->is_array()) continue;
    std::string text;
    for (const Json& part : *parts) {
      const Json* piece = part.is_object() ? find(part, "text") : nullptr;
      if (piece == nullptr || !piece->is_string()) continue;
      if (!text.empty()) text += '\n';
      text += piece->get<std::string>();
    }
    if (!text.empty()) {
      out.reasoning = std::move(text);
      return;
    }
  }
}

Check read_input_item(const Json& item, size_t index, Conversation& out) {
  const std::string path = fmt::format("input[{}]", index);
  if (!item.is_object()) return wrong_type(path, "an object (an input item)", item);
  const Json* type = find(item, "type");
  if (type != nullptr && !type->is_string()) return wrong_type(path + ".type", "a string", *type);
  const std::string kind = type == nullptr ? "message" : type->get<std::string>();
  if (kind == "message") return read_message(item, path, out);
  if (kind == "function_call") return read_function_call(item, path, out);
  if (kind == "function_call_output") return read_function_call_output(item, path, out);
  if (kind == "reasoning") {
    read_reasoning_item(item, out);
    return std::nullopt;
  }
  if (kind == "item_reference") {
    return bad(fmt::format("{} is an item_reference: mxserve stores no responses or items; send "
                           "the item itself",
                           path),
               path + ".type");
  }
  return bad(fmt::format("{}.type {} is not supported: send message, function_call, "
                         "function_call_output or reasoning items",
                         path, show(*type)),
             path + ".type");
}

Check read_input(const Json& body, ResponsesRequest& out) {
  Conversation conversation;
  if (const Json* instructions = find(body, "instructions")) {
    if (!instructions->is_string()) {
      return wrong_type("instructions", "a string", *instructions);
    }
    conversation.add(Json{{"role", "system"}, {"content", *instructions}});
    out.echo["instructions"] = *instructions;
  }
  const Json* input = find(body, "input");
  constexpr const char* kExpected = "a string or an array of input items";
  if (input == nullptr) return bad(fmt::format("input is required: {}", kExpected), "input");
  if (input->is_string()) {
    conversation.add(Json{{"role", "user"}, {"content", *input}});
  } else if (input->is_array()) {
    if (input->empty()) return bad("input must not be empty", "input");
    for (size_t i = 0; i < input->size(); ++i) {
      if (auto e = read_input_item((*input)[i], i, conversation)) return e;
    }
  } else {
    return wrong_type("input", kExpected, *input);
  }
  out.chat.messages = std::move(conversation.messages);
  return std::nullopt;
}

}  // namespace

ApiResult<ResponsesRequest> parse_responses_request(std::string_view body) {
  ApiResult<Json> parsed = parse_request_json(body);
  if (!parsed.ok()) return std::move(parsed).error();
  const Json& json = *parsed;
  ResponsesRequest request;
  request.echo = Json{{"instructions", nullptr}};
  if (auto e = read_input(json, request)) return *e;
  if (auto e = responses_detail::read_options(json, request)) return *e;
  if (auto e = responses_detail::read_tools(json, request)) return *e;
  // In the order OpenAI's Response objects list them.
  Json echo;
  for (const char* key : {"instructions", "max_output_tokens", "parallel_tool_calls",
                          "previous_response_id", "reasoning", "store", "temperature", "text",
                          "tool_choice", "tools", "top_p", "truncation", "user", "metadata"}) {
    if (request.echo.contains(key)) echo[key] = std::move(request.echo[key]);
  }
  request.echo = std::move(echo);
  return request;
}

}  // namespace mx
