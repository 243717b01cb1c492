// mxserve run: generate text from a prompt, streamed as it is sampled, then tokens/s.
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/thread_pool.h"
#include "engine/sampler.h"
#include "engine/single_sequence.h"
#include "model/model.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace mx::app {
namespace {

struct RunFlags {
  std::string model;
  std::string prompt;
  int64_t n_predict = 128;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  int64_t seed = -1;
  int threads = 2;
  bool pin = false;
  int64_t ctx = 4096;
  std::string kv_type = "f16";
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int run_generate(const RunFlags& flags) {
  auto model = Model::load(flags.model);
  if (!model.ok()) return fail("run", model.error());
  auto tokenizer = Tokenizer::load(flags.model);
  if (!tokenizer.ok()) return fail("run", tokenizer.error());
  SamplingParams params;
  params.temperature = flags.temperature;
  params.top_k = flags.top_k;
  params.top_p = flags.top_p;
  if (flags.seed >= 0) params.seed = static_cast<uint64_t>(flags.seed);
  const int32_t vocab = static_cast<int32_t>((*model)->config().vocab_size);
  if (Status valid = params.validate(vocab); !valid.ok()) {
    return fail("run", valid.error(), 2);
  }
  std::vector<int32_t> prompt = (*tokenizer)->encode(flags.prompt, /*add_special=*/true);
  if (prompt.empty()) {
    return fail("run", make_error(ErrorCode::kInvalidArgument, "the prompt is empty"), 2);
  }
  const int64_t ctx = std::min(flags.ctx, (*model)->config().context_length);
  if (static_cast<int64_t>(prompt.size()) + flags.n_predict > ctx) {
    return fail("run", make_error(ErrorCode::kInvalidArgument,
                                  "prompt ({} tokens) + -n {} exceeds the context {}",
                                  prompt.size(), flags.n_predict, ctx), 2);
  }
  auto kv_type = parse_kv_type(flags.kv_type);
  if (!kv_type.ok()) return fail("run", kv_type.error(), 2);
  ThreadPool pool(flags.threads, flags.pin);
  SingleSequence seq(**model, static_cast<int64_t>(prompt.size()) + flags.n_predict, *kv_type);
  SamplerState sampler(params, vocab);
  sampler.add_prompt_tokens(prompt);
  Detokenizer detok(**tokenizer, /*skip_special=*/true);
  std::vector<float> logits;
  auto start = Clock::now();
  Status status = seq.append(prompt, SingleSequence::Rows::kLastRow, logits, pool);
  const double prompt_seconds = seconds_since(start);
  fmt::print("{}", flags.prompt);
  std::fflush(stdout);
  int64_t generated = 0;
  start = Clock::now();
  while (status.ok() && generated < flags.n_predict) {
    int32_t token = sampler.sample(logits).token;
    sampler.accept(token);
    ++generated;
    if (token == (*tokenizer)->eos_id()) break;
    fmt::print("{}", detok.push(token));
    std::fflush(stdout);
    if (generated == flags.n_predict) break;
    const int32_t next[] = {token};
    status = seq.append(next, SingleSequence::Rows::kLastRow, logits, pool);
  }
  const double gen_seconds = seconds_since(start);
  fmt::print("{}\n", detok.flush());
  if (!status.ok()) return fail("run", status.error());
  fmt::print(stderr, "prompt: {} tokens in {:.3f} s ({:.1f} tokens/s)\n", prompt.size(),
             prompt_seconds, prompt.size() / prompt_seconds);
  fmt::print(stderr, "generation: {} tokens in {:.3f} s ({:.1f} tokens/s)\n", generated,
             gen_seconds, generated / std::max(gen_seconds, 1e-9));
  return 0;
}

}  // namespace

void register_run(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt and print tokens/s");
  add_model_flag(*sub, flags->model);
  sub->add_option("-p,--prompt", flags->prompt, "Prompt text")->required();
  sub->add_option("-n,--n-predict", flags->n_predict, "Tokens to generate")->capture_default_str();
  sub->add_option("--temp", flags->temperature, "Temperature (0 = greedy)")->capture_default_str();
  sub->add_option("--top-k", flags->top_k, "Top-k (0 = off)")->capture_default_str();
  sub->add_option("--top-p", flags->top_p, "Top-p (1 = off)")->capture_default_str();
  sub->add_option("--seed", flags->seed, "Sampling seed (-1 = random)")->capture_default_str();
  add_threads_flag(*sub, flags->threads);
  add_pin_flag(*sub, flags->pin);
  sub->add_option("-c,--ctx", flags->ctx, "Context size (tokens)")->capture_default_str();
  add_kv_type_flag(*sub, flags->kv_type);
  sub->callback([flags, &exit_code] { exit_code = run_generate(*flags); });
}

}  // namespace mx::app
