// KL divergence between a base model and another model on the same tokens, for
// `mxserve perplexity --kl-divergence-base FILE` (save) and `--kl-divergence FILE` (compare),
// as llama.cpp's perplexity tool offers (the file format is mxserve's own).
//
// The base file keeps, per scored position, the base model's top kKldTopK log-probabilities
// (ids sorted by probability) and the log of the probability mass outside them, instead of all
// vocab_size values (151k floats per token for Qwen3: 0.6 MB): 264 bytes. KL divergence is then
// computed over kKldTopK + 1 outcomes (the top tokens and "any other token"), which is a lower
// bound of the full-vocabulary KL (merging outcomes never increases it) and equal to it up to the
// rest mass's share, typically < 1e-3 of the total for top-32.
//
// File (little-endian): "MXKLD001", uint32 top_k, int32 add_bos, int64 vocab, ctx, n_chunks,
// then int32 tokens [n_chunks * ctx], then per chunk and scored position j in [ctx/2, ctx - 1):
// float target_logprob, float rest_logprob, int32 ids [top_k], float logprobs [top_k].
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace mx::app {

inline constexpr int kKldTopK = 32;

struct KldHeader {
  int64_t vocab = 0;
  int64_t ctx = 0;
  int64_t n_chunks = 0;
  bool add_bos = false;
};

// One scored position of the base model.
struct KldRecord {
  float target_logprob = 0.0f;
  float rest_logprob = 0.0f;  // log(1 - sum of the top probabilities); -inf when nothing is left
  int32_t ids[kKldTopK] = {};
  float logprobs[kKldTopK] = {};
};

// log-softmax of logits [vocab] in double (max-shifted), into out [vocab].
void log_softmax(const float* logits, int64_t vocab, std::vector<double>& out);

// The base model's record at one position from its log-probabilities.
KldRecord make_kld_record(const std::vector<double>& logprobs, int32_t target);

class KldBaseWriter {
 public:
  static Result<KldBaseWriter> create(const std::string& path, const KldHeader& header,
                                      const std::vector<int32_t>& tokens);
  Status add(const KldRecord& record);
  Status finish();

 private:
  struct Closer {
    void operator()(std::FILE* f) const {
      if (f) std::fclose(f);
    }
  };
  std::unique_ptr<std::FILE, Closer> file_;
  std::string path_;
};

struct KldBase {
  KldHeader header;
  std::vector<int32_t> tokens;     // [n_chunks * ctx]
  std::vector<KldRecord> records;  // [n_chunks * (ctx - 1 - ctx / 2)]
};

Result<KldBase> read_kld_base(const std::string& path);

// Per-position statistics of the compared model against the base, and the report.
class KldStats {
 public:
  void add(const KldRecord& base, const std::vector<double>& logprobs, int32_t target);
  int64_t count() const { return static_cast<int64_t>(kld_.size()); }
  // The report llama.cpp's tool gives, in mxserve's words: PPL of both, ln(PPL ratio), mean KL
  // divergence with its standard error, its quantiles and maximum, same-top-token rate.
  void print(std::FILE* out) const;

 private:
  std::vector<double> kld_;
  std::vector<double> nll_base_, nll_;
  int64_t same_top_ = 0;
};

}  // namespace mx::app
