// The mxserve subcommands. Each cmd_*.cpp registers one (or a family) on the CLI11 app; flags
// are declared there with their MXSERVE_* environment names, and --config FILE (TOML/INI) can
// supply any of them: this is the one place where flags, environment and config file meet.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/status.h"
#include "model/model.h"

namespace mx::app {

// Flags shared by the commands that load a model, with their MXSERVE_* environment names.
void add_model_flag(CLI::App& sub, std::string& model);
void add_threads_flag(CLI::App& sub, int& threads);
void add_pin_flag(CLI::App& sub, bool& pin);
// --mla-form auto | direct | absorbed (MLA models: force one attention form; tests, benchmarks).
void add_mla_form_flag(CLI::App& sub, std::string& form);
Result<Model::MlaForm> parse_mla_form(const std::string& form);
// --kv-type f16 | f32 | int8 (KvCacheStorage::type_from_name); the default is the caller's.
void add_kv_type_flag(CLI::App& sub, std::string& kv_type);
Result<DType> parse_kv_type(const std::string& kv_type);

// Prints "mxserve <command>: <message>" to stderr; returns exit_code for `return fail(...)`.
int fail(const char* command, const Error& error, int exit_code = 1);

// Each returns nothing; the subcommand's callback runs the command and sets the exit code.
void register_tokenize(CLI::App& app, int& exit_code);
void register_chat_template(CLI::App& app, int& exit_code);
void register_make_test_model(CLI::App& app, int& exit_code);
void register_logits(CLI::App& app, int& exit_code);
void register_run(CLI::App& app, int& exit_code);
void register_perplexity(CLI::App& app, int& exit_code);
void register_quantize(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);
void register_serve(CLI::App& app, int& exit_code);
void register_worker(CLI::App& app, int& exit_code);
void register_frontend(CLI::App& app, int& exit_code);
void register_keys(CLI::App& app, int& exit_code);
void register_usage(CLI::App& app, int& exit_code);
void register_experts(CLI::App& app, int& exit_code);
void register_later_commands(CLI::App& app, int& exit_code);

}  // namespace mx::app
