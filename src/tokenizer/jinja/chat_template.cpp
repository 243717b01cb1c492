// ChatTemplate: parse once, render per request with transformers' variables (chat_template.h).
#include "tokenizer/jinja/chat_template.h"


namespace mx {

namespace jinja {

Value value_from_json(const nlohmann::ordered_json& json, int depth) {
  using Type = nlohmann::ordered_json::value_t;
  if (depth > kMaxValueNesting) fail("request JSON nested more than {} levels deep", kMaxValueNesting);
  switch (json.type()) {
    case Type::null:
      return Value(None{});
    case Type::boolean:
      return Value(json.get<bool>());
    case Type::number_integer:
      return Value(json.get<int64_t>());
    case Type::number_unsigned: {
      uint64_t value = json.get<uint64_t>();
      if (value > static_cast<uint64_t>(INT64_MAX)) {
        fail_unsupported("integer {} in the request does not fit in 64 bits", value);
      }
      return Value(static_cast<int64_t>(value));
    }
    case Type::number_float:
      return Value(json.get<double>());
    case Type::string:
      return Value(json.get<std::string>());
    case Type::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(value_from_json(item, depth + 1));
      return Value::list(std::move(items));
    }
    case Type::object: {
      Dict dict;
      for (const auto& [key, item] : json.items()) dict.set(Value(key), value_from_json(item, depth + 1));
      return Value::dict(std::move(dict));
    }
    default:
      fail_unsupported("unsupported JSON value (binary) in the request");
  }
}

}  // namespace jinja

Result<ChatTemplate> ChatTemplate::create(std::string source,
                                          std::map<std::string, std::string> special_tokens,
                                          ChatTemplateOptions options) {
  ChatTemplate result;
  try {
    result.parsed_ = jinja::parse_template(source);
  } catch (const jinja::TemplateError& error) {
    return error.to_error().with_context("chat template");
  }
  result.source_ = std::move(source);
  result.special_tokens_ = std::move(special_tokens);
  result.options_ = options;
  return result;
}

Result<std::string> ChatTemplate::render(const nlohmann::json& request) const {
  return render(nlohmann::ordered_json::parse(request.dump()));
}

Result<std::string> ChatTemplate::render_text(std::string_view request_text) const {
  nlohmann::ordered_json request;
  try {
    request = nlohmann::ordered_json::parse(request_text);
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "request is not valid JSON: {}", e.what());
  }
  return render(request);
}

namespace {

// The variables transformers passes: render(messages=..., tools=..., documents=...,
// add_generation_prompt=..., **special_tokens_map, **chat_template_kwargs).
Result<jinja::Dict> template_variables(const nlohmann::ordered_json& request,
                                       const std::map<std::string, std::string>& special_tokens) {
  using jinja::Value;
  if (!request.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "request must be a JSON object with \"messages\"");
  }
  auto messages = request.find("messages");
  if (messages == request.end() || !messages->is_array()) {
    return make_error(ErrorCode::kInvalidArgument, "request needs a \"messages\" array");
  }
  jinja::Dict vars;
  vars.set(Value("messages"), jinja::value_from_json(*messages));
  for (const char* optional_list : {"tools", "documents"}) {
    auto it = request.find(optional_list);
    vars.set(Value(optional_list), it == request.end() ? Value(jinja::None{}) : jinja::value_from_json(*it));
  }
  auto add_generation_prompt = request.find("add_generation_prompt");
  bool add = false;
  if (add_generation_prompt != request.end()) {
    if (!add_generation_prompt->is_boolean()) {
      return make_error(ErrorCode::kInvalidArgument, "\"add_generation_prompt\" must be true or false");
    }
    add = add_generation_prompt->get<bool>();
  }
  vars.set(Value("add_generation_prompt"), Value(add));
  for (const auto& [name, text] : special_tokens) vars.set(Value(name), Value(text));
  auto kwargs = request.find("chat_template_kwargs");
  if (kwargs != request.end() && !kwargs->is_null()) {
    if (!kwargs->is_object()) {
      return make_error(ErrorCode::kInvalidArgument, "\"chat_template_kwargs\" must be an object");
    }
    for (const auto& [key, value] : kwargs->items()) {
      if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt") {
        return make_error(ErrorCode::kInvalidArgument,
                          "chat_template_kwargs may not set \"{}\" (it is a top-level request field)", key);
      }
      vars.set(Value(key), jinja::value_from_json(value));
    }
  }
  return vars;
}

}  // namespace

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& request) const {
  if (!parsed_) return make_error(ErrorCode::kInternal, "chat template used before create()");
  try {
    MX_ASSIGN_OR_RETURN(jinja::Dict vars, template_variables(request, special_tokens_));
    jinja::Interpreter interpreter(options_.limits, options_.fixed_now);
    return interpreter.render(parsed_, vars);
  } catch (const jinja::TemplateError& error) {
    if (error.kind() == jinja::TemplateErrorKind::kRaised) {
      return error.to_error().with_context("chat template rejected the request");
    }
    return error.to_error().with_context("chat template");
  }
}

}  // namespace mx
