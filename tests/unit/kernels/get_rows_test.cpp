// get_rows against dequantize_row (exact: it is the same function) and id checks.
#include "kernels/cpu/get_rows.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/quants.h"
#include "random_blocks.h"

namespace mx {
namespace {

TEST(GetRows, EveryTypeMatchesDequantize) {
  ThreadPool pool(2, false);
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (DType type : {DType::F32,   DType::F16,     DType::BF16,   DType::Q8_0,   DType::Q4_0,
                     DType::Q4_1,  DType::Q5_0,    DType::Q5_1,   DType::Q2_K,   DType::Q3_K,
                     DType::Q4_K,  DType::Q5_K,    DType::Q6_K,   DType::IQ4_NL, DType::IQ4_XS,
                     DType::MXFP4, DType::IQ2_XXS, DType::IQ2_XS, DType::IQ2_S,  DType::IQ3_XXS,
                     DType::IQ3_S, DType::IQ1_S,   DType::IQ1_M,  DType::TQ1_0,  DType::TQ2_0}) {
    int64_t cols = 512, n_rows = 11;
    size_t rb = static_cast<size_t>(*row_bytes(type, cols));
    std::vector<uint8_t> table(rb * n_rows);
    std::vector<float> row(cols);
    for (int64_t r = 0; r < n_rows; ++r) {
      if (!can_quantize(type)) {  // the grid types: random valid blocks
        test::fill_random_grid_blocks(type, table.data() + r * rb, cols / 256, 1e-2f, rng);
        continue;
      }
      for (float& v : row) v = normal(rng);
      ASSERT_TRUE(quantize_row(type, row.data(), table.data() + r * rb, cols));
    }
    std::vector<int32_t> ids = {3, 0, 10, 3, 7, 1, 2, 9, 4};
    int64_t stride = cols + 8;
    std::vector<float> y(ids.size() * stride, -1.0f);
    ASSERT_TRUE(get_rows(type, table.data(), n_rows, cols, ids.data(),
                         static_cast<int64_t>(ids.size()), y.data(), stride, pool)
                    .ok());
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_TRUE(dequantize_row(type, table.data() + ids[i] * rb, row.data(), cols));
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[i * stride + c], row[c]);
      ASSERT_EQ(y[i * stride + cols], -1.0f);
    }
  }
}

TEST(GetRows, RejectsBadIds) {
  ThreadPool pool(1, false);
  std::vector<float> table(8), y(4);
  int32_t bad[] = {2};
  auto status = get_rows(DType::F32, table.data(), 2, 4, bad, 1, y.data(), 4, pool);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace mx
