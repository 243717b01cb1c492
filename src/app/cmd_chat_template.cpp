// mxserve chat-template: renders a chat request with a model's chat template and prints the
// prompt bytes exactly (no newline is added), so the output can be compared byte for byte with
// transformers' apply_chat_template(..., tokenize=False).
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "app/commands.h"
#include "tokenizer/jinja/chat_template.h"

namespace mx::app {
namespace {

struct ChatTemplateFlags {
  std::string tokenizer;
  std::string request_file;
  std::string template_name;
};

int run_chat_template(const ChatTemplateFlags& flags) {
  std::ifstream in(flags.request_file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "mxserve chat-template: cannot open request file '{}'\n", flags.request_file);
    return 1;
  }
  std::ostringstream text;
  text << in.rdbuf();

  Result<ChatTemplate> chat_template = ChatTemplate::load(flags.tokenizer, flags.template_name);
  if (!chat_template.ok()) {
    fmt::print(stderr, "mxserve chat-template: {}\n", chat_template.error().message);
    return 1;
  }
  Result<std::string> prompt = chat_template->render_text(text.str());
  if (!prompt.ok()) {
    fmt::print(stderr, "mxserve chat-template: {}: {}\n", flags.request_file, prompt.error().message);
    return 1;
  }
  std::fwrite(prompt->data(), 1, prompt->size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

void register_chat_template(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ChatTemplateFlags>();
  CLI::App* sub = app.add_subcommand(
      "chat-template",
      "Render a chat request with the model's chat template and print the prompt. The prompt's "
      "bytes are written exactly as rendered, with no trailing newline added.");
  sub->add_option("--tokenizer", flags->tokenizer,
                  "Model folder (chat_template.jinja / tokenizer_config.json), a "
                  "tokenizer_config.json, or a GGUF file")
      ->required()
      ->envname("MXSERVE_TOKENIZER");
  sub->add_option("--request-file", flags->request_file,
                  "JSON request: {\"messages\": [...], \"tools\": [...], "
                  "\"add_generation_prompt\": true, \"chat_template_kwargs\": {...}}")
      ->required();
  sub->add_option("--template-name", flags->template_name,
                  "Named template when the model has several (e.g. tool_use); default: default");
  sub->callback([flags, &exit_code] { exit_code = run_chat_template(*flags); });
}

}  // namespace mx::app
