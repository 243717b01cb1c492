// mxserve perplexity: perplexity of a text file by llama.cpp's perplexity-tool method, so the
// two can be compared on the same GGUF file: the text is tokenized once (BOS as the model's
// tokenizer config says), cut into chunks of --ctx tokens (the first token of each chunk
// replaced by BOS when the model adds one), and each chunk scored on its second half:
// NLL of token j+1 given logits of token j, for j in [ctx/2, ctx - 1).
// --kl-divergence-base FILE saves the tokens and each scored position's top log-probabilities;
// --kl-divergence FILE runs this model on the saved tokens (same chunks) and reports its KL
// divergence from the base (perplexity_kld.h).
#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <cmath>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/perplexity_kld.h"
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
  std::string kld_base_out;  // --kl-divergence-base: write the base file
  std::string kld_base_in;   // --kl-divergence: compare against it
  std::string mla_form = "auto";
  std::string kv_type = "f16";
};

// What the run needs besides the model: tokens and how they are cut.
struct PerplexityInput {
  std::vector<int32_t> tokens;
  int64_t ctx = 0;
  int64_t n_chunks = 0;
  bool add_bos = false;
  std::optional<KldBase> base;  // --kl-divergence
};

Result<PerplexityInput> read_input(const PerplexityFlags& flags, const Tokenizer& tokenizer,
                                   int64_t vocab) {
  PerplexityInput in;
  if (!flags.kld_base_in.empty()) {
    MX_ASSIGN_OR_RETURN(KldBase base, read_kld_base(flags.kld_base_in));
    if (base.header.vocab != vocab) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: the base model has a vocabulary of {}, this model {}; KL divergence "
                        "needs the same vocabulary",
                        flags.kld_base_in, base.header.vocab, vocab);
    }
    in.ctx = base.header.ctx;
    in.n_chunks = base.header.n_chunks;
    in.add_bos = base.header.add_bos;
    in.tokens = base.tokens;
    in.base = std::move(base);
    return in;
  }
  if (flags.text_file.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "perplexity needs a text: -f FILE (or --kl-divergence FILE, which holds "
                      "the tokens)");
  }
  MX_ASSIGN_OR_RETURN(std::string text, read_text_file(flags.text_file));
  in.tokens = tokenizer.encode(text, /*add_special=*/true);
  const auto& prefix = tokenizer.special_prefix();
  const auto bos = tokenizer.bos_id();
  in.add_bos = bos && !prefix.empty() && prefix.front() == *bos;
  in.ctx = flags.ctx;
  in.n_chunks = static_cast<int64_t>(in.tokens.size()) / in.ctx;
  if (flags.chunks >= 0) in.n_chunks = std::min(in.n_chunks, flags.chunks);
  if (in.ctx < 4 || in.n_chunks == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the text has {} tokens; it needs at least --ctx {} (use a longer text or a "
                      "smaller --ctx)",
                      in.tokens.size(), in.ctx);
  }
  return in;
}

// -log p(target | logits), in double.
double negative_log_likelihood(const float* logits, int64_t vocab, int32_t target) {
  float max_logit = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max_logit));
  return std::log(sum) - static_cast<double>(logits[target] - max_logit);
}

int run_perplexity(const PerplexityFlags& flags) {
  auto model = Model::load(flags.model);
  if (!model.ok()) return fail("perplexity", model.error());
  auto tokenizer = Tokenizer::load(flags.model);
  if (!tokenizer.ok()) return fail("perplexity", tokenizer.error());
  const int64_t vocab = (*model)->config().vocab_size;
  auto input = read_input(flags, **tokenizer, vocab);
  if (!input.ok()) return fail("perplexity", input.error(), 2);
  const PerplexityInput& in = *input;
  const auto bos = (*tokenizer)->bos_id();
  if (in.add_bos && !bos) {
    fmt::print(stderr, "mxserve perplexity: the base added BOS, this model's tokenizer has none\n");
    return 2;
  }
  std::optional<KldBaseWriter> base_out;
  if (!flags.kld_base_out.empty()) {
    auto writer = KldBaseWriter::create(flags.kld_base_out, {vocab, in.ctx, in.n_chunks, in.add_bos},
                                        in.tokens);
    if (!writer.ok()) return fail("perplexity", writer.error());
    base_out = std::move(*writer);
  }
  const int64_t ctx = in.ctx;
  fmt::print(stderr, "perplexity: {} tokens, {} chunks of {}, add_bos={}\n", in.tokens.size(),
             in.n_chunks, ctx, in.add_bos);
  auto form = parse_mla_form(flags.mla_form);
  if (!form.ok()) return fail("perplexity", form.error());
  (*model)->set_mla_form(*form);
  auto kv_type = parse_kv_type(flags.kv_type);
  if (!kv_type.ok()) return fail("perplexity", kv_type.error());
  ThreadPool pool(flags.threads, flags.pin);
  SingleSequence seq(**model, ctx, *kv_type);
  const int64_t first = ctx / 2;
  std::vector<float> logits;
  std::vector<double> logprobs;
  KldStats stats;
  size_t record = 0;
  double nll = 0.0;
  int64_t count = 0;
  auto start = std::chrono::steady_clock::now();
  for (int64_t chunk = 0; chunk < in.n_chunks; ++chunk) {
    std::vector<int32_t> window(in.tokens.begin() + chunk * ctx,
                                in.tokens.begin() + (chunk + 1) * ctx);
    if (in.add_bos) window[0] = *bos;
    seq.reset();
    Status status = seq.append(window, SingleSequence::Rows::kAllRows, logits, pool, flags.batch);
    if (!status.ok()) return fail("perplexity", status.error());
    // Targets are the original tokens (only the input's first token was replaced by BOS).
    const int32_t* targets = in.tokens.data() + chunk * ctx;
    for (int64_t j = first; j < ctx - 1; ++j) {
      const float* row = &logits[j * vocab];
      if (base_out || in.base) {
        log_softmax(row, vocab, logprobs);
        nll -= logprobs[targets[j + 1]];
        if (base_out) status = base_out->add(make_kld_record(logprobs, targets[j + 1]));
        if (in.base) stats.add(in.base->records[record++], logprobs, targets[j + 1]);
        if (!status.ok()) return fail("perplexity", status.error());
      } else {
        nll += negative_log_likelihood(row, vocab, targets[j + 1]);
      }
      ++count;
    }
    fmt::print(stderr, "[{}]{:.4f}{}", chunk + 1, std::exp(nll / count),
               chunk + 1 == in.n_chunks ? "\n" : ",");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "{} tokens scored in {:.2f} s\n", count, seconds);
  fmt::print("PPL = {:.4f}\n", std::exp(nll / count));
  if (base_out) {
    Status status = base_out->finish();
    if (!status.ok()) return fail("perplexity", status.error());
    fmt::print(stderr, "saved the base log-probabilities to {}\n", flags.kld_base_out);
  }
  if (in.base) stats.print(stdout);
  return 0;
}

}  // namespace

void register_perplexity(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* sub = app.add_subcommand("perplexity", "Perplexity of a text file (llama.cpp's method)");
  add_model_flag(*sub, flags->model);
  sub->add_option("-f,--file", flags->text_file, "Text file (not with --kl-divergence)")
      ->check(CLI::ExistingFile);
  sub->add_option("-c,--ctx", flags->ctx, "Tokens per chunk")->capture_default_str();
  sub->add_option("--chunks", flags->chunks, "Score at most this many chunks (-1 = all)")
      ->capture_default_str();
  sub->add_option("-b,--batch", flags->batch, "Tokens per forward batch")->capture_default_str();
  auto* save = sub->add_option("--kl-divergence-base", flags->kld_base_out,
                               "Save the tokens and this model's top log-probabilities to FILE "
                               "(the base for --kl-divergence)");
  sub->add_option("--kl-divergence", flags->kld_base_in,
                  "Run on the tokens saved in FILE and report the KL divergence from that base "
                  "(-f, --ctx and --chunks come from the file)")
      ->check(CLI::ExistingFile)
      ->excludes(save);
  add_threads_flag(*sub, flags->threads);
  add_mla_form_flag(*sub, flags->mla_form);
  add_kv_type_flag(*sub, flags->kv_type);
  add_pin_flag(*sub, flags->pin);
  sub->callback([flags, &exit_code] { exit_code = run_perplexity(*flags); });
}

}  // namespace mx::app
