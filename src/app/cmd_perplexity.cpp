// mxserve perplexity: perplexity of a text file by llama.cpp's perplexity-tool method, so the
// two can be compared on the same GGUF file: the text is tokenized once (BOS as the model's
// tokenizer config says), cut into chunks of --ctx tokens (the first token of each chunk
// replaced by BOS when the model adds one), and each chunk scored on its second half:
// NLL of token j+1 given logits of token j, for j in [ctx/2, ctx - 1).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "engine/single_sequence.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace mx::app {
namespace {

struct PerplexityFlags {
  std::string model;
  std::string text_file;
  int64_t ctx = 512;
  int64_t chunks = -1;
  int threads = 2;
  bool pin = false;
  int64_t batch = 512;
  std::string mla_form = "auto";
};

// -log p(target | logits), in double.
double negative_log_likelihood(const float* logits, int64_t vocab, int32_t target) {
  float max_logit = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max_logit));
  return std::log(sum) - static_cast<double>(logits[target] - max_logit);
}

int run_perplexity(const PerplexityFlags& flags) {
  auto text = read_text_file(flags.text_file);
  if (!text.ok()) return fail("perplexity", text.error());
  auto model = Model::load(flags.model);
  if (!model.ok()) return fail("perplexity", model.error());
  auto tokenizer = Tokenizer::load(flags.model);
  if (!tokenizer.ok()) return fail("perplexity", tokenizer.error());
  std::vector<int32_t> tokens = (*tokenizer)->encode(*text, /*add_special=*/true);
  const auto& prefix = (*tokenizer)->special_prefix();
  const auto bos = (*tokenizer)->bos_id();
  const bool add_bos = bos && !prefix.empty() && prefix.front() == *bos;
  const int64_t ctx = flags.ctx;
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / ctx;
  if (flags.chunks >= 0) n_chunks = std::min(n_chunks, flags.chunks);
  if (ctx < 4 || n_chunks == 0) {
    fmt::print(stderr, "mxserve perplexity: the text has {} tokens; it needs at least --ctx {} "
               "(use a longer text or a smaller --ctx)\n", tokens.size(), ctx);
    return 2;
  }
  fmt::print(stderr, "perplexity: {} tokens, {} chunks of {}, add_bos={}\n", tokens.size(),
             n_chunks, ctx, add_bos);
  auto form = parse_mla_form(flags.mla_form);
  if (!form.ok()) return fail("perplexity", form.error());
  (*model)->set_mla_form(*form);
  ThreadPool pool(flags.threads, flags.pin);
  SingleSequence seq(**model, ctx);
  const int64_t vocab = (*model)->config().vocab_size;
  const int64_t first = ctx / 2;
  std::vector<float> logits;
  double nll = 0.0;
  int64_t count = 0;
  auto start = std::chrono::steady_clock::now();
  for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
    std::vector<int32_t> window(tokens.begin() + chunk * ctx, tokens.begin() + (chunk + 1) * ctx);
    if (add_bos) window[0] = *bos;
    seq.reset();
    Status status = seq.append(window, SingleSequence::Rows::kAllRows, logits, pool, flags.batch);
    if (!status.ok()) return fail("perplexity", status.error());
    // Targets are the original tokens (only the input's first token was replaced by BOS).
    const int32_t* targets = tokens.data() + chunk * ctx;
    for (int64_t j = first; j < ctx - 1; ++j) {
      nll += negative_log_likelihood(&logits[j * vocab], vocab, targets[j + 1]);
      ++count;
    }
    fmt::print(stderr, "[{}]{:.4f}{}", chunk + 1, std::exp(nll / count),
               chunk + 1 == n_chunks ? "\n" : ",");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "{} tokens scored in {:.2f} s\n", count, seconds);
  fmt::print("PPL = {:.4f}\n", std::exp(nll / count));
  return 0;
}

}  // namespace

void register_perplexity(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* sub = app.add_subcommand("perplexity", "Perplexity of a text file (llama.cpp's method)");
  add_model_flag(*sub, flags->model);
  sub->add_option("-f,--file", flags->text_file, "Text file")->required()->check(CLI::ExistingFile);
  sub->add_option("-c,--ctx", flags->ctx, "Tokens per chunk")->capture_default_str();
  sub->add_option("--chunks", flags->chunks, "Score at most this many chunks (-1 = all)")
      ->capture_default_str();
  sub->add_option("-b,--batch", flags->batch, "Tokens per forward batch")->capture_default_str();
  add_threads_flag(*sub, flags->threads);
  add_mla_form_flag(*sub, flags->mla_form);
  add_pin_flag(*sub, flags->pin);
  sub->callback([flags, &exit_code] { exit_code = run_perplexity(*flags); });
}

}  // namespace mx::app
