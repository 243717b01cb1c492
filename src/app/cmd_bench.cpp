// mxserve bench: prompt-processing (pp) and generation (tg) tokens/s, as llama-bench measures
// them: pp = one batch of -p random tokens into an empty context; tg = -n tokens decoded one at
// a time from an empty context. One warm-up run, then -r timed repetitions; the median is
// reported (and every sample with --json). --depth D (llama-bench's -d) first fills D tokens of
// context, untimed, and runs both tests after them ("tg128@d4096"): attention over a long KV.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "app/commands.h"
#include "core/thread_pool.h"
#include "engine/single_sequence.h"
#include "kernels/cpu/cpu_features.h"
#include "model/model.h"

namespace mx::app {
namespace {

struct BenchFlags {
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t depth = 0;  // context filled before each test
  int threads = 2;
  bool pin = false;
  int repetitions = 5;
  bool json = false;
  std::string mla_form = "auto";
  std::string kv_type = "f16";
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Tokens/s of one run after `depth` tokens of context: pp feeds all tokens as one batch, tg one
// token per forward.
Result<double> time_run(SingleSequence& seq, int64_t depth, const std::vector<int32_t>& tokens,
                        bool one_by_one, ThreadPool& pool) {
  std::vector<float> logits;
  seq.rewind(depth);
  auto start = std::chrono::steady_clock::now();
  if (one_by_one) {
    for (int32_t token : tokens) {
      const int32_t next[] = {token};
      MX_RETURN_IF_ERROR(seq.append(next, SingleSequence::Rows::kLastRow, logits, pool));
    }
  } else {
    MX_RETURN_IF_ERROR(seq.append(tokens, SingleSequence::Rows::kLastRow, logits, pool,
                                  static_cast<int64_t>(tokens.size())));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return tokens.size() / seconds;
}

Result<std::vector<double>> measure(SingleSequence& seq, int64_t n, bool one_by_one,
                                    const BenchFlags& flags, int64_t vocab, ThreadPool& pool) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int32_t& token : tokens) token = pick(rng);
  std::vector<double> samples;
  MX_RETURN_IF_ERROR(time_run(seq, flags.depth, tokens, one_by_one, pool));  // warm-up
  for (int r = 0; r < flags.repetitions; ++r) {
    MX_ASSIGN_OR_RETURN(double rate, time_run(seq, flags.depth, tokens, one_by_one, pool));
    samples.push_back(rate);
  }
  return samples;
}

int run_bench(const BenchFlags& flags) {
  auto model = Model::load(flags.model);
  if (!model.ok()) return fail("bench", model.error());
  auto form = parse_mla_form(flags.mla_form);
  if (!form.ok()) return fail("bench", form.error());
  (*model)->set_mla_form(*form);
  auto kv_type = parse_kv_type(flags.kv_type);
  if (!kv_type.ok()) return fail("bench", kv_type.error());
  ThreadPool pool(flags.threads, flags.pin);
  const int64_t vocab = (*model)->config().vocab_size;
  SingleSequence seq(**model, flags.depth + std::max(flags.n_prompt, flags.n_gen), *kv_type);
  if (flags.depth > 0) {  // the context every test starts from (rewound to, never recomputed)
    std::mt19937 rng(99);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> context(static_cast<size_t>(flags.depth));
    for (int32_t& token : context) token = pick(rng);
    std::vector<float> logits;
    Status filled = seq.append(context, SingleSequence::Rows::kNone, logits, pool);
    if (!filled.ok()) return fail("bench", filled.error());
  }
  nlohmann::ordered_json out = {{"model", flags.model}, {"threads", flags.threads},
                                {"cpu", cpu_features().describe()},
                                {"repetitions", flags.repetitions}};
  // KV cache per token (all layers, --kv-type) in the model's layout, beside full K/V heads (MLA).
  const ModelConfig& c = (*model)->config();
  const std::string_view type_name = KvCacheStorage::type_name(*kv_type);
  const size_t kv_bytes = KvCacheStorage::bytes_per_token(c, *kv_type);
  const size_t gqa_bytes = KvCacheStorage::gqa_bytes_per_token(c, *kv_type);
  const std::string layout = KvCacheStorage::layout_name(c, *kv_type);
  out["kv_type"] = type_name;
  out["depth"] = flags.depth;
  out["kv_bytes_per_token"] = kv_bytes;
  out["kv_layout"] = layout;
  if (c.mla.enabled()) out["kv_bytes_per_token_full_heads"] = gqa_bytes;
  if (!flags.json) {
    fmt::print("kv cache {} B/token ({}, {})", kv_bytes, type_name, layout);
    if (c.mla.enabled()) {
      fmt::print("; with {} full K/V heads: {} B/token ({:.1f}x)", c.n_heads, gqa_bytes,
                 static_cast<double>(gqa_bytes) / static_cast<double>(kv_bytes));
    }
    fmt::print("\n");
  }
  for (const auto& [name, n, one_by_one] :
       {std::tuple{"pp", flags.n_prompt, false}, std::tuple{"tg", flags.n_gen, true}}) {
    if (n <= 0) continue;
    auto samples = measure(seq, n, one_by_one, flags, vocab, pool);
    if (!samples.ok()) return fail("bench", samples.error());
    const std::string test = flags.depth > 0 ? fmt::format("{}{}@d{}", name, n, flags.depth)
                                             : fmt::format("{}{}", name, n);
    out["results"][test] = {{"tokens_per_s_median", median(*samples)}, {"samples", *samples}};
    if (!flags.json) {
      fmt::print("{:<8} {:>10.2f} tokens/s (median of {})\n", test, median(*samples),
                 samples->size());
    }
  }
  if (flags.json) fmt::print("{}\n", out.dump(2));
  return 0;
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "Prompt-processing and generation tokens/s");
  add_model_flag(*sub, flags->model);
  sub->add_option("-p,--n-prompt", flags->n_prompt, "Prompt tokens (pp test)")->capture_default_str();
  sub->add_option("-n,--n-gen", flags->n_gen, "Generated tokens (tg test)")->capture_default_str();
  sub->add_option("-d,--depth", flags->depth,
                  "Tokens of context filled (untimed) before each test: decode speed at a long "
                  "context")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_threads_flag(*sub, flags->threads);
  add_mla_form_flag(*sub, flags->mla_form);
  add_kv_type_flag(*sub, flags->kv_type);
  add_pin_flag(*sub, flags->pin);
  sub->add_option("-r,--repetitions", flags->repetitions, "Timed repetitions")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--json", flags->json, "Print results as JSON");
  sub->callback([flags, &exit_code] { exit_code = run_bench(*flags); });
}

}  // namespace mx::app
