// Chat templates: renders an OpenAI-style request into the model's prompt text exactly as
// Hugging Face transformers' apply_chat_template does (jinja2 ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and loop controls; its tojson, raise_exception and strftime_now).
//
// The template sees: messages, tools (None when absent), documents (None when absent),
// add_generation_prompt (default false), the tokenizer's special tokens (bos_token, eos_token,
// ... when set) and every key of the request's chat_template_kwargs (e.g. enable_thinking).
// A template that calls raise_exception(msg) makes render() fail with msg in the error.
#pragma once

#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/status.h"
#include "tokenizer/jinja/interpreter.h"

namespace mx {

struct ChatTemplateOptions {
  jinja::RenderLimits limits;
  // Fixes what strftime_now() sees (tests); unset means the current local time.
  std::optional<std::time_t> fixed_now;
};

class ChatTemplate {
 public:
  // Parses `source`. `special_tokens` maps names such as "bos_token" / "eos_token" to their text;
  // only the tokens the tokenizer has should be present (templates test `bos_token is defined`).
  static Result<ChatTemplate> create(std::string source,
                                     std::map<std::string, std::string> special_tokens = {},
                                     ChatTemplateOptions options = {});

  // Loads the template of a model: a Hugging Face folder (chat_template.jinja, chat_template.json
  // or tokenizer_config.json's "chat_template", a string or a list of {name, template}), a
  // tokenizer_config.json path, or a GGUF file. `name` picks a named template ("tool_use");
  // empty means "default".
  static Result<ChatTemplate> load(const std::string& path, const std::string& name = "",
                                   ChatTemplateOptions options = {});

  // request = {messages: [...], tools?: [...], documents?: [...], add_generation_prompt?: bool,
  //            chat_template_kwargs?: {...}}. Returns the prompt text.
  // Takes ordered_json because key order is visible in the output (`tools|tojson` prints keys in
  // the order the client sent them, as Python's json module keeps it); parse requests with
  // nlohmann::ordered_json::parse. The nlohmann::json overload sees keys sorted.
  Result<std::string> render(const nlohmann::ordered_json& request) const;
  Result<std::string> render(const nlohmann::json& request) const;
  // Parses `request_text` as JSON (order kept) and renders it.
  Result<std::string> render_text(std::string_view request_text) const;

  const std::string& source() const { return source_; }
  const std::map<std::string, std::string>& special_tokens() const { return special_tokens_; }

 private:
  std::string source_;
  std::map<std::string, std::string> special_tokens_;
  ChatTemplateOptions options_;
  std::shared_ptr<const jinja::ParsedTemplate> parsed_;
};

namespace jinja {
// JSON -> template value (objects keep their key order).
Value value_from_json(const nlohmann::ordered_json& json, int depth = 0);
}  // namespace jinja

}  // namespace mx
