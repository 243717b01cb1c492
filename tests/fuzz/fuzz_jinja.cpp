// libFuzzer target: parse and render arbitrary template bytes against a small fixed request.
// Must never crash, hang or blow memory: every failure has to be a clean Result error, and
// the render limits (steps, output and value sizes, nesting depth) bound the work any template
// can ask for. Seed corpus: tests/fuzz/corpus/jinja (the real chat templates).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/jinja/chat_template.h"

namespace {

const nlohmann::ordered_json& fixed_request() {
  static const nlohmann::ordered_json request = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Hi 😀 {{ not a tag }}"},
      {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHello", "reasoning_content": "r",
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 1.5}}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
      {"role": "user", "content": ""}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "add_generation_prompt": true,
    "chat_template_kwargs": {"enable_thinking": false, "n": 3, "items": [1, "two", null, true]}
  })");
  return request;
}

mx::ChatTemplateOptions fuzz_options() {
  mx::ChatTemplateOptions options;
  options.limits.max_output_bytes = 1 << 20;
  options.limits.max_value_bytes = 1 << 20;
  options.limits.max_steps = 200000;
  options.limits.max_bytes_built = 64 << 20;
  options.fixed_now = 1700000000;  // deterministic strftime_now
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const mx::ChatTemplateOptions options = fuzz_options();
  std::string source(reinterpret_cast<const char*>(data), size);
  mx::Result<mx::ChatTemplate> chat_template =
      mx::ChatTemplate::create(std::move(source), {{"bos_token", "<s>"}, {"eos_token", "</s>"}}, options);
  if (!chat_template.ok()) return 0;
  mx::Result<std::string> prompt = chat_template->render(fixed_request());
  (void)prompt;
  return 0;
}
