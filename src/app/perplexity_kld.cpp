#include "app/perplexity_kld.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace mx::app {
namespace {

constexpr char kMagic[8] = {'M', 'X', 'K', 'L', 'D', '0', '0', '1'};

int64_t positions_per_chunk(int64_t ctx) { return ctx - 1 - ctx / 2; }

// Mean and its standard error.
std::pair<double, double> mean_and_error(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double var = 0.0;
  for (double x : v) var += (x - mean) * (x - mean);
  var = v.size() > 1 ? var / (n - 1) : 0.0;
  return {mean, std::sqrt(var / n)};
}

// The q-quantile of sorted values (linear interpolation).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

void log_softmax(const float* logits, int64_t vocab, std::vector<double>& out) {
  out.resize(static_cast<size_t>(vocab));
  const float max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) {
    out[i] = static_cast<double>(logits[i] - max_logit);
    sum += std::exp(out[i]);
  }
  const double log_sum = std::log(sum);
  for (double& v : out) v -= log_sum;
}

KldRecord make_kld_record(const std::vector<double>& logprobs, int32_t target) {
  KldRecord r;
  r.target_logprob = static_cast<float>(logprobs[target]);
  std::vector<int32_t> ids(logprobs.size());
  std::iota(ids.begin(), ids.end(), 0);
  const size_t k = std::min<size_t>(kKldTopK, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b]; });
  double top_mass = 0.0;
  for (size_t i = 0; i < k; ++i) {
    r.ids[i] = ids[i];
    r.logprobs[i] = static_cast<float>(logprobs[ids[i]]);
    top_mass += std::exp(logprobs[ids[i]]);
  }
  // A vocabulary smaller than top_k (tests): the missing entries have probability 0.
  for (size_t i = k; i < kKldTopK; ++i) {
    r.ids[i] = ids[0];
    r.logprobs[i] = -std::numeric_limits<float>::infinity();
  }
  const double rest = 1.0 - top_mass;
  r.rest_logprob =
      rest > 0.0 ? static_cast<float>(std::log(rest)) : -std::numeric_limits<float>::infinity();
  return r;
}

Result<KldBaseWriter> KldBaseWriter::create(const std::string& path, const KldHeader& h,
                                            const std::vector<int32_t>& tokens) {
  KldBaseWriter w;
  w.path_ = path;
  w.file_.reset(std::fopen(path.c_str(), "wb"));
  if (!w.file_) return make_error(ErrorCode::kIoError, "{}: cannot open for writing", path);
  const uint32_t top_k = kKldTopK;
  const int32_t add_bos = h.add_bos ? 1 : 0;
  const int64_t fields[3] = {h.vocab, h.ctx, h.n_chunks};
  bool ok = std::fwrite(kMagic, 1, 8, w.file_.get()) == 8 &&
            std::fwrite(&top_k, 4, 1, w.file_.get()) == 1 &&
            std::fwrite(&add_bos, 4, 1, w.file_.get()) == 1 &&
            std::fwrite(fields, 8, 3, w.file_.get()) == 3;
  const size_t n = static_cast<size_t>(h.n_chunks * h.ctx);
  ok = ok && tokens.size() >= n && std::fwrite(tokens.data(), 4, n, w.file_.get()) == n;
  if (!ok) return make_error(ErrorCode::kIoError, "{}: write failed", path);
  return w;
}

Status KldBaseWriter::add(const KldRecord& r) {
  bool ok = std::fwrite(&r.target_logprob, 4, 1, file_.get()) == 1 &&
            std::fwrite(&r.rest_logprob, 4, 1, file_.get()) == 1 &&
            std::fwrite(r.ids, 4, kKldTopK, file_.get()) == kKldTopK &&
            std::fwrite(r.logprobs, 4, kKldTopK, file_.get()) == kKldTopK;
  if (!ok) return make_error(ErrorCode::kIoError, "{}: write failed (disk full?)", path_);
  return ok_status();
}

Status KldBaseWriter::finish() {
  if (std::fclose(file_.release()) != 0) {
    return make_error(ErrorCode::kIoError, "{}: write failed (disk full?)", path_);
  }
  return ok_status();
}

Result<KldBase> read_kld_base(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return make_error(ErrorCode::kNotFound, "{}: cannot open the KL divergence base", path);
  auto bad = [&](const char* what) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: not a KL divergence base written by `mxserve perplexity "
                      "--kl-divergence-base` ({}); write it again",
                      path, what);
  };
  char magic[8];
  uint32_t top_k = 0;
  int32_t add_bos = 0;
  int64_t fields[3];
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, kMagic, 8) != 0 ||
      std::fread(&top_k, 4, 1, f.get()) != 1 || std::fread(&add_bos, 4, 1, f.get()) != 1 ||
      std::fread(fields, 8, 3, f.get()) != 3) {
    return bad("bad header");
  }
  KldBase base;
  base.header = {fields[0], fields[1], fields[2], add_bos != 0};
  const KldHeader& h = base.header;
  if (top_k != kKldTopK || h.vocab <= 0 || h.ctx < 4 || h.ctx > (1 << 24) || h.n_chunks <= 0 ||
      h.n_chunks > (1 << 24)) {
    return bad("bad header values");
  }
  base.tokens.resize(static_cast<size_t>(h.n_chunks * h.ctx));
  if (std::fread(base.tokens.data(), 4, base.tokens.size(), f.get()) != base.tokens.size()) {
    return bad("truncated tokens");
  }
  base.records.resize(static_cast<size_t>(h.n_chunks * positions_per_chunk(h.ctx)));
  for (KldRecord& r : base.records) {
    if (std::fread(&r.target_logprob, 4, 1, f.get()) != 1 ||
        std::fread(&r.rest_logprob, 4, 1, f.get()) != 1 ||
        std::fread(r.ids, 4, kKldTopK, f.get()) != kKldTopK ||
        std::fread(r.logprobs, 4, kKldTopK, f.get()) != kKldTopK) {
      return bad("truncated records");
    }
    for (int32_t id : r.ids) {
      if (id < 0 || id >= h.vocab) return bad("token id out of range");
    }
  }
  return base;
}

void KldStats::add(const KldRecord& base, const std::vector<double>& logprobs, int32_t target) {
  double kld = 0.0, q_top = 0.0;
  for (int i = 0; i < kKldTopK; ++i) {
    const double lp = base.logprobs[i];
    const double lq = logprobs[base.ids[i]];
    if (std::isfinite(lp)) kld += std::exp(lp) * (lp - lq);
    q_top += std::exp(lq);
  }
  if (std::isfinite(base.rest_logprob)) {
    const double q_rest = std::max(1.0 - q_top, 1e-30);
    kld += std::exp(double{base.rest_logprob}) * (base.rest_logprob - std::log(q_rest));
  }
  kld_.push_back(std::max(kld, 0.0));  // rounding can make a near-zero value negative
  nll_base_.push_back(-double{base.target_logprob});
  nll_.push_back(-logprobs[target]);
  const auto top = std::max_element(logprobs.begin(), logprobs.end()) - logprobs.begin();
  if (top == base.ids[0]) ++same_top_;
}

void KldStats::print(std::FILE* out) const {
  if (kld_.empty()) return;
  const double n = static_cast<double>(kld_.size());
  auto [nll_base, nll_base_err] = mean_and_error(nll_base_);
  auto [nll, nll_err] = mean_and_error(nll_);
  std::vector<double> diff(nll_.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = nll_[i] - nll_base_[i];
  auto [ln_ratio, ln_ratio_err] = mean_and_error(diff);
  auto [kld, kld_err] = mean_and_error(kld_);
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  const double same = static_cast<double>(same_top_) / n;
  fmt::print(out, "positions          = {}\n", kld_.size());
  fmt::print(out, "PPL(base)          = {:.4f} +/- {:.4f}\n", std::exp(nll_base),
             std::exp(nll_base) * nll_base_err);
  fmt::print(out, "PPL(this)          = {:.4f} +/- {:.4f}\n", std::exp(nll),
             std::exp(nll) * nll_err);
  fmt::print(out, "ln(PPL(this)/PPL(base)) = {:.6f} +/- {:.6f}\n", ln_ratio, ln_ratio_err);
  fmt::print(out, "KLD mean           = {:.6f} +/- {:.6f}\n", kld, kld_err);
  fmt::print(out, "KLD max            = {:.6f}\n", sorted.back());
  fmt::print(out, "KLD 99.9%          = {:.6f}\n", quantile(sorted, 0.999));
  fmt::print(out, "KLD 99%            = {:.6f}\n", quantile(sorted, 0.99));
  fmt::print(out, "KLD 90%            = {:.6f}\n", quantile(sorted, 0.90));
  fmt::print(out, "KLD median         = {:.6f}\n", quantile(sorted, 0.5));
  fmt::print(out, "same top token     = {:.3f} +/- {:.3f} %\n", 100.0 * same,
             100.0 * std::sqrt(same * (1.0 - same) / std::max(1.0, n - 1.0)));
}

}  // namespace mx::app
