// matmul_batch gives exactly what one matmul() per call gives (same kernels, same quantized
// activations), for float and quantized weights, decode and prefill token counts (lanes kernels
// included), calls sharing activations, empty calls, and more calls than one region takes.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quants.h"

namespace mx {
namespace {

struct Weights {
  DType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes, aux;
};

Weights random_weights(DType type, int64_t rows, int64_t cols, std::mt19937& rng,
                       ThreadPool& pool) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(rows * cols);
  for (float& v : values) v = normal(rng);
  Weights w{type, rows, cols, {}, {}};
  const uint64_t row_size = *row_bytes(type, cols);
  w.bytes.resize(row_size * rows);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_TRUE(quantize_row(type, &values[r * cols], &w.bytes[r * row_size], cols));
  }
  w.aux.resize(matmul_aux_bytes(type, rows, cols));
  if (!w.aux.empty()) {
    EXPECT_TRUE(matmul_prepare_aux(type, w.bytes.data(), rows, cols, w.aux.data(), w.aux.size(),
                                   pool).ok());
  }
  return w;
}

void check_batch(DType type, const std::vector<int64_t>& tokens_per_call, bool share_x) {
  std::mt19937 rng(static_cast<uint32_t>(tokens_per_call.size() * 131 + tokens_per_call[0]));
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 48;
  const int64_t max_tokens = *std::max_element(tokens_per_call.begin(), tokens_per_call.end());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(tokens_per_call.size() * max_tokens * cols);
  for (float& v : x) v = normal(rng);
  std::vector<Weights> weights;
  std::vector<MatmulArgs> calls;
  std::vector<std::vector<float>> batch_out(tokens_per_call.size()), single_out(tokens_per_call.size());
  for (size_t i = 0; i < tokens_per_call.size(); ++i) {
    weights.push_back(random_weights(type, rows + static_cast<int64_t>(i % 3) * 16, cols, rng, pool));
  }
  for (size_t i = 0; i < tokens_per_call.size(); ++i) {
    const Weights& w = weights[i];
    MatmulArgs a;
    a.w_type = type;
    a.w = w.bytes.data();
    a.rows = w.rows;
    a.cols = cols;
    // With share_x, pairs of calls (2i, 2i + 1) read the same rows, like a MoE gate and up.
    const size_t x_index = share_x ? i / 2 * 2 : i;
    a.x = &x[x_index * max_tokens * cols];
    a.x_stride = cols;
    a.n_tokens = share_x ? tokens_per_call[x_index] : tokens_per_call[i];
    a.y_stride = w.rows + 3;
    batch_out[i].assign(a.n_tokens * a.y_stride, -1.0f);
    single_out[i].assign(a.n_tokens * a.y_stride, -1.0f);
    a.w_aux = w.aux.empty() ? nullptr : w.aux.data();
    calls.push_back(a);
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    MatmulArgs a = calls[i];
    a.y = single_out[i].data();
    std::vector<uint8_t> scratch(matmul_scratch_bytes(type, a.n_tokens, cols) + 64);
    ASSERT_TRUE(matmul(a, scratch.data(), scratch.size(), pool).ok());
    calls[i].y = batch_out[i].data();
  }
  std::vector<uint8_t> scratch(matmul_batch_scratch_bytes(calls));
  if (!scratch.empty()) {
    EXPECT_FALSE(matmul_batch(calls, scratch.data(), scratch.size() - 1, pool).ok())
        << "too little scratch must be an error";
  }
  ASSERT_TRUE(matmul_batch(calls, scratch.data(), scratch.size(), pool).ok());
  for (size_t i = 0; i < calls.size(); ++i) {
    ASSERT_EQ(std::memcmp(batch_out[i].data(), single_out[i].data(), batch_out[i].size() * 4), 0)
        << dtype_name(type) << " call " << i << " with " << calls[i].n_tokens << " tokens";
  }
}

TEST(MatmulBatchTest, MatchesOneMatmulPerCall) {
  for (DType type : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    check_batch(type, {1, 1, 1, 1, 1, 1, 1, 1}, /*share_x=*/false);
    check_batch(type, {1, 1, 1, 1}, /*share_x=*/true);
    check_batch(type, {3, 0, 7, 20, 1, 33, 16, 5}, /*share_x=*/false);
    check_batch(type, {3, 9, 7, 20, 17, 33}, /*share_x=*/true);
  }
}

TEST(MatmulBatchTest, MoreCallsThanOneRegionTakes) {
  std::vector<int64_t> tokens(150);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int64_t>(i % 5);
  tokens[0] = 2;
  check_batch(DType::Q8_0, tokens, /*share_x=*/true);
}

}  // namespace
}  // namespace mx
