// Placeholder until the tokenizer work lands (replaced in the same session).
#include "app/commands.h"

namespace mx::app {
void register_chat_template(CLI::App& app, int& exit_code) {
  (void)app;
  (void)exit_code;
}
}  // namespace mx::app
