// The /v1/responses wire format (responses_format.h).
#include "server/responses_format.h"

#include <fmt/format.h>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

const char* status_of(FinishReason finish) {
  return finish == FinishReason::kLength ? "incomplete" : "completed";
}

Json reasoning_item(const std::string& id, const std::string& text, std::string_view status) {
  Json content = Json::array();
  if (!text.empty()) content.push_back(Json{{"type", "reasoning_text"}, {"text", text}});
  return Json{{"type", "reasoning"},
              {"id", id},
              {"summary", Json::array()},
              {"content", std::move(content)},
              {"status", status}};
}

Json output_text_part(const std::string& text) {
  return Json{{"type", "output_text"},
              {"text", text},
              {"annotations", Json::array()},
              {"logprobs", Json::array()}};
}

Json message_item(const std::string& id, const std::string* text, std::string_view status) {
  Json content = Json::array();
  if (text != nullptr) content.push_back(output_text_part(*text));
  return Json{{"type", "message"},
              {"id", id},
              {"role", "assistant"},
              {"status", status},
              {"content", std::move(content)}};
}

Json function_call_item(const std::string& id, const std::string& call_id, const std::string& name,
                        const std::string& arguments, std::string_view status) {
  return Json{{"type", "function_call"}, {"id", id},        {"call_id", call_id}, {"name", name},
              {"arguments", arguments},  {"status", status}};
}

// The stream of one Response: numbered events, the output items opened and closed in order.
class ResponsesFormat final : public CallFormat {
 public:
  ResponsesFormat(ResponseMeta meta, Json echo)
      : CallFormat(std::move(meta)), echo_(std::move(echo)) {}

  std::string stream_start() override {
    std::string out;
    const Json response = object("in_progress", Json::array(), nullptr);
    emit(out, "response.created", {{"response", response}});
    emit(out, "response.in_progress", {{"response", response}});
    return out;
  }

  std::string stream_delta(int32_t, const OutputDelta& delta, std::vector<TokenLogprobs>& logprobs,
                           std::optional<FinishReason> finish) override {
    logprobs.clear();  // not offered on /v1/responses
    std::string out;
    if (!delta.reasoning.empty()) text_delta(out, Item::kReasoning, delta.reasoning);
    if (!delta.content.empty()) text_delta(out, Item::kMessage, delta.content);
    for (const ToolCallDelta& call : delta.tool_calls) function_call(out, call);
    if (finish) {
      finish_ = *finish;
      // Every Response but one of function calls only has a message, if an empty one.
      if (!message_seen_ && !calls_seen_) open(out, Item::kMessage);
      close(out, status_of(*finish));
    }
    return out;
  }

  std::string stream_error(std::string_view message) override {
    error_ = std::string(message);
    std::string out;
    emit(out, "error", {{"code", "server_error"}, {"message", message}, {"param", nullptr}});
    return out;
  }

  std::string stream_end(const Usage& usage, bool failed) override {
    std::string out;
    if (failed) {
      Json response = object("failed", items_, &usage);
      response["error"] = Json{{"code", "server_error"}, {"message", error_}};
      emit(out, "response.failed", {{"response", std::move(response)}});
      return out;
    }
    const char* status = status_of(finish_);
    const std::string type = fmt::format("response.{}", status);
    emit(out, type, {{"response", object(status, items_, &usage)}});
    return out;
  }

  std::string whole_body(std::span<const ChoiceResult> choices, const Usage& usage) override {
    const ChoiceResult& c = choices.front();
    const char* status = status_of(c.finish);
    Json output = Json::array();
    if (!c.reasoning.empty()) {
      output.push_back(reasoning_item(random_response_id("rs_"), c.reasoning, "completed"));
    }
    if (!c.content.empty() || c.tool_calls.empty()) {
      output.push_back(message_item(random_response_id("msg_"), &c.content, status));
    }
    for (const ToolCall& call : c.tool_calls) {
      output.push_back(function_call_item(random_response_id("fc_"), call.id, call.name,
                                          call.arguments, "completed"));
    }
    return response_body(object(status, std::move(output), &usage));
  }

 private:
  enum class Item { kNone, kReasoning, kMessage };

  Json object(std::string_view status, Json output, const Usage* usage) const {
    return response_object_json(meta_, echo_, status, std::move(output), usage);
  }

  void emit(std::string& out, std::string_view type, Json fields) {
    Json event = {{"type", type}};
    for (auto& [key, value] : fields.items()) event[key] = std::move(value);
    event["sequence_number"] = sequence_number_++;
    out += fmt::format("event: {}\ndata: {}\n\n", type, response_body(event));
  }

  // The open item's place: output_index, item_id.
  Json where() const { return Json{{"item_id", open_id_}, {"output_index", items_.size()}}; }

  void open(std::string& out, Item kind) {
    if (open_ == kind) return;
    close(out, "completed");
    open_ = kind;
    open_text_.clear();
    Json item, part;
    if (kind == Item::kReasoning) {
      open_id_ = random_response_id("rs_");
      item = reasoning_item(open_id_, "", "in_progress");
      part = Json{{"type", "reasoning_text"}, {"text", ""}};
    } else {
      open_id_ = random_response_id("msg_");
      message_seen_ = true;
      item = message_item(open_id_, nullptr, "in_progress");
      part = output_text_part("");
    }
    emit(out, "response.output_item.added", {{"output_index", items_.size()}, {"item", item}});
    Json added = where();
    added["content_index"] = 0;
    added["part"] = std::move(part);
    emit(out, "response.content_part.added", std::move(added));
  }

  void text_delta(std::string& out, Item kind, const std::string& text) {
    open(out, kind);
    open_text_ += text;
    Json delta = where();
    delta["content_index"] = 0;
    delta["delta"] = text;
    if (kind == Item::kMessage) delta["logprobs"] = Json::array();
    emit(out,
         kind == Item::kMessage ? "response.output_text.delta" : "response.reasoning_text.delta",
         std::move(delta));
  }

  // Ends the open text item: its .done events, and the item joins the output.
  void close(std::string& out, std::string_view status) {
    if (open_ == Item::kNone) return;
    const bool message = open_ == Item::kMessage;
    Json done = where();
    done["content_index"] = 0;
    done["text"] = open_text_;
    if (message) done["logprobs"] = Json::array();
    emit(out, message ? "response.output_text.done" : "response.reasoning_text.done", done);
    Json part_done = where();
    part_done["content_index"] = 0;
    part_done["part"] = message ? output_text_part(open_text_)
                                : Json{{"type", "reasoning_text"}, {"text", open_text_}};
    emit(out, "response.content_part.done", std::move(part_done));
    Json item = message ? message_item(open_id_, &open_text_, status)
                        : reasoning_item(open_id_, open_text_, "completed");
    emit(out, "response.output_item.done", {{"output_index", items_.size()}, {"item", item}});
    items_.push_back(std::move(item));
    open_ = Item::kNone;
  }

  // A parsed call arrives whole: its item, its arguments as one delta, done.
  void function_call(std::string& out, const ToolCallDelta& call) {
    close(out, "completed");
    calls_seen_ = true;
    open_id_ = random_response_id("fc_");
    const size_t index = items_.size();
    emit(out, "response.output_item.added",
         {{"output_index", index},
          {"item", function_call_item(open_id_, call.id, call.name, "", "in_progress")}});
    emit(out, "response.function_call_arguments.delta",
         {{"item_id", open_id_}, {"output_index", index}, {"delta", call.arguments}});
    emit(out, "response.function_call_arguments.done",
         {{"item_id", open_id_}, {"output_index", index}, {"arguments", call.arguments}});
    Json item = function_call_item(open_id_, call.id, call.name, call.arguments, "completed");
    emit(out, "response.output_item.done", {{"output_index", index}, {"item", item}});
    items_.push_back(std::move(item));
  }

  Json echo_;
  int64_t sequence_number_ = 0;
  Json items_ = Json::array();  // the closed output items
  Item open_ = Item::kNone;
  std::string open_id_, open_text_;
  bool message_seen_ = false, calls_seen_ = false;
  FinishReason finish_ = FinishReason::kStop;
  std::string error_;
};

}  // namespace

Json responses_usage_json(const Usage& usage) {
  return Json{{"input_tokens", usage.prompt_tokens},
              {"input_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
              {"output_tokens", usage.completion_tokens},
              {"output_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}},
              {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

Json response_object_json(const ResponseMeta& meta, const Json& echo, std::string_view status,
                          Json output, const Usage* usage) {
  Json json = {{"id", meta.id},       {"object", "response"},       {"created_at", meta.created},
               {"status", status},    {"error", nullptr},           {"incomplete_details", nullptr},
               {"model", meta.model}, {"output", std::move(output)}};
  if (status == "incomplete") json["incomplete_details"] = {{"reason", "max_output_tokens"}};
  for (const auto& [key, value] : echo.items()) json[key] = value;
  json["usage"] = usage != nullptr ? responses_usage_json(*usage) : Json(nullptr);
  return json;
}

std::unique_ptr<CallFormat> make_responses_format(std::string model, Json echo) {
  return std::make_unique<ResponsesFormat>(new_response_meta("resp_", std::move(model)),
                                           std::move(echo));
}

}  // namespace mx
