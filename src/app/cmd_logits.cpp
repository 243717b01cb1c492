// mxserve logits: the model's logits for a token sequence, as raw float32 [n_tokens, vocab]
// (a developer tool: tests compare it with the independent PyTorch reference).
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/thread_pool.h"
#include "engine/single_sequence.h"
#include "model/model.h"

namespace mx::app {
namespace {

struct LogitsFlags {
  std::string model;
  std::string tokens;
  std::string out;
  int threads = 2;
  bool pin = false;
  std::string kv_type = "f32";
  int64_t chunk = 512;
  std::string mla_form = "auto";
};

int run_logits(const LogitsFlags& flags) {
  std::vector<int32_t> tokens;
  try {
    size_t pos = 0;
    while (pos < flags.tokens.size()) {
      size_t comma = flags.tokens.find(',', pos);
      if (comma == std::string::npos) comma = flags.tokens.size();
      tokens.push_back(std::stoi(flags.tokens.substr(pos, comma - pos)));
      pos = comma + 1;
    }
  } catch (const std::exception&) {
    fmt::print(stderr, "mxserve logits: --tokens must be comma-separated integers\n");
    return 2;
  }
  auto model = Model::load(flags.model);
  if (!model.ok()) {
    return fail("logits", model.error());
  }
  auto form = parse_mla_form(flags.mla_form);
  if (!form.ok()) return fail("logits", form.error());
  (*model)->set_mla_form(*form);
  auto kv_type = parse_kv_type(flags.kv_type);
  if (!kv_type.ok()) return fail("logits", kv_type.error());
  ThreadPool pool(flags.threads, flags.pin);
  SingleSequence seq(**model, static_cast<int64_t>(tokens.size()), *kv_type);
  std::vector<float> logits;
  Status status = seq.append(tokens, SingleSequence::Rows::kAllRows, logits, pool, flags.chunk);
  if (!status.ok()) {
    return fail("logits", status.error());
  }
  FILE* out = std::fopen(flags.out.c_str(), "wb");
  if (out == nullptr || std::fwrite(logits.data(), 4, logits.size(), out) != logits.size()) {
    fmt::print(stderr, "mxserve logits: cannot write {}\n", flags.out);
    if (out) std::fclose(out);
    return 1;
  }
  std::fclose(out);
  return 0;
}

}  // namespace

void register_logits(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<LogitsFlags>();
  CLI::App* sub = app.add_subcommand("logits", "Developer tool: dump logits of a token sequence");
  add_model_flag(*sub, flags->model);
  sub->add_option("--tokens", flags->tokens, "Comma-separated token ids")->required();
  sub->add_option("--out", flags->out, "Output file: float32 [n_tokens, vocab]")->required();
  add_threads_flag(*sub, flags->threads);
  add_pin_flag(*sub, flags->pin);
  add_kv_type_flag(*sub, flags->kv_type);
  sub->add_option("--chunk", flags->chunk, "Prefill chunk size in tokens")->capture_default_str();
  add_mla_form_flag(*sub, flags->mla_form);
  sub->callback([flags, &exit_code] { exit_code = run_logits(*flags); });
}

}  // namespace mx::app
