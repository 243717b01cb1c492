// mxserve: one binary, one subcommand per role or tool (see docs/architecture.md).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"mxserve: an OpenAI-compatible LLM server, metered by the token"};
  app.set_version_flag("--version", "mxserve 0.1.0");
  app.set_config("--config", "", "Read flags from a TOML/INI config file");
  app.require_subcommand(1);

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(spdlog::stderr_color_mt("mxserve"));

  int exit_code = 0;
  mx::app::register_tokenize(app, exit_code);
  mx::app::register_chat_template(app, exit_code);
  mx::app::register_make_test_model(app, exit_code);
  mx::app::register_run(app, exit_code);
  mx::app::register_perplexity(app, exit_code);
  mx::app::register_quantize(app, exit_code);
  mx::app::register_bench(app, exit_code);
  mx::app::register_logits(app, exit_code);
  mx::app::register_serve(app, exit_code);
  mx::app::register_worker(app, exit_code);
  mx::app::register_frontend(app, exit_code);
  mx::app::register_keys(app, exit_code);
  mx::app::register_usage(app, exit_code);
  mx::app::register_experts(app, exit_code);
  mx::app::register_later_commands(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
