// The mxserve subcommands. Each cmd_*.cpp registers one (or a family) on the CLI11 app; flags
// are declared there with their MXSERVE_* environment names, and --config FILE (TOML/INI) can
// supply any of them: this is the one place where flags, environment and config file meet.
#pragma once

#include <CLI/CLI.hpp>

namespace mx::app {

// Each returns nothing; the subcommand's callback runs the command and sets the exit code.
void register_tokenize(CLI::App& app, int& exit_code);
void register_chat_template(CLI::App& app, int& exit_code);
void register_make_test_model(CLI::App& app, int& exit_code);
void register_logits(CLI::App& app, int& exit_code);
void register_run(CLI::App& app, int& exit_code);
void register_perplexity(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);
void register_later_commands(CLI::App& app, int& exit_code);

}  // namespace mx::app
