// mxserve logits: the model's logits for a token sequence, as raw float32 [n_tokens, vocab]
// (a developer tool: tests compare it with the independent PyTorch reference).
#include <fmt/format.h>

#include <cstdio>
#include <numeric>
#include <span>
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
  bool mtp = false;
};

// --mtp: the MTP module's logits of every position i < n - 1 from the main model's hidden
// state at i and token i + 1 (the prediction of token i + 2), [n - 1, vocab]; the MTP pass runs
// in chunks of `chunk` rows over a paged cache, as the engine's catch-up does.
Status mtp_logits(Model& model, std::span<const int32_t> tokens, DType kv_dtype, int64_t chunk,
                  std::vector<float>& logits, ThreadPool& pool) {
  const ModelConfig& c = model.config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (!model.has_mtp() || n < 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--mtp needs a model with MTP (nextn) layers and at least 2 tokens");
  }
  constexpr int64_t kBlock = 16;
  KvCacheStorage kv(c, (n + kBlock - 1) / kBlock, kBlock, kv_dtype, /*with_nextn=*/true);
  std::vector<int32_t> table(static_cast<size_t>(kv.n_blocks())), positions(tokens.size());
  std::iota(table.begin(), table.end(), 0);
  std::iota(positions.begin(), positions.end(), 0);
  std::vector<float> hidden(static_cast<size_t>(n * c.d_model));
  BatchSequence all{0, n, table.data(), n};
  ForwardBatch whole{tokens, positions, std::span(&all, 1), {}, hidden.data()};
  MX_RETURN_IF_ERROR(model.forward(whole, kv, nullptr, pool));
  logits.resize(static_cast<size_t>((n - 1) * c.vocab_size));
  std::vector<int32_t> rows;
  for (int64_t begin = 0; begin < n - 1; begin += chunk) {
    const int64_t count = std::min(chunk, n - 1 - begin);
    rows.resize(static_cast<size_t>(count));
    std::iota(rows.begin(), rows.end(), 0);
    BatchSequence seq{0, count, table.data(), begin + count};
    ForwardBatch batch{tokens.subspan(begin + 1, count), std::span(positions).subspan(begin, count),
                       std::span(&seq, 1), rows};
    MX_RETURN_IF_ERROR(model.mtp_forward(batch, &hidden[begin * c.d_model], kv,
                                         &logits[begin * c.vocab_size], nullptr, pool));
  }
  return ok_status();
}

int write_floats(const std::string& path, const std::vector<float>& values) {
  FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr || std::fwrite(values.data(), 4, values.size(), out) != values.size()) {
    fmt::print(stderr, "mxserve logits: cannot write {}\n", path);
    if (out) std::fclose(out);
    return 1;
  }
  std::fclose(out);
  return 0;
}

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
  const DType kv_dtype = *kv_type;
  std::vector<float> logits;
  if (flags.mtp) {
    Status status = mtp_logits(**model, tokens, kv_dtype, flags.chunk, logits, pool);
    if (!status.ok()) return fail("logits", status.error());
    return write_floats(flags.out, logits);
  }
  SingleSequence seq(**model, static_cast<int64_t>(tokens.size()), kv_dtype);
  Status status = seq.append(tokens, SingleSequence::Rows::kAllRows, logits, pool, flags.chunk);
  if (!status.ok()) {
    return fail("logits", status.error());
  }
  return write_floats(flags.out, logits);
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
  sub->add_flag("--mtp", flags->mtp,
                "Dump the MTP (nextn) module's logits instead: row i predicts token i + 2 from "
                "the hidden state of i and token i + 1, [n_tokens - 1, vocab]");
  sub->callback([flags, &exit_code] { exit_code = run_logits(*flags); });
}

}  // namespace mx::app
