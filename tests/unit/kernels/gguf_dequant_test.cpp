// End to end: tensors read by our GGUF reader from the gguf-py-written reference file,
// dequantized by dequantize_row, equal the floats gguf-py decodes them to (reference.json).
// Bitwise equal, like quant_goldens_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "io/gguf.h"
#include "kernels/cpu/quants.h"

namespace mx {
namespace {

TEST(GgufDequantize, ReferenceTensorsMatchGgufPy) {
  std::string dir = std::string(MX_TEST_DATA_DIR) + "/gguf/";
  auto text = read_text_file(dir + "reference.json");
  ASSERT_TRUE(text.ok());
  nlohmann::json expected = nlohmann::json::parse(*text);
  auto file = GgufFile::open(dir + "reference.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  int checked = 0;
  for (const auto& want : expected["tensors"]) {
    if (want["values"].is_null()) continue;  // integer tensors
    const GgufTensor* tensor = file->find_tensor(want["name"].get<std::string>());
    ASSERT_NE(tensor, nullptr);
    ASSERT_TRUE(can_dequantize(tensor->dtype));
    std::vector<float> values(static_cast<size_t>(tensor->numel()));
    int64_t row = tensor->ne[0];
    auto row_size = row_bytes(tensor->dtype, static_cast<uint64_t>(row));
    for (int64_t r = 0; r < tensor->numel() / row; ++r) {
      ASSERT_TRUE(dequantize_row(tensor->dtype, tensor->data + r * *row_size,
                                 values.data() + r * row, row));
    }
    ASSERT_EQ(values.size(), want["values"].size());
    for (size_t i = 0; i < values.size(); ++i) {
      float reference = static_cast<float>(want["values"][i].get<double>());
      ASSERT_EQ(float_bits(values[i]), float_bits(reference)) << tensor->name << "[" << i << "]";
    }
    ++checked;
  }
  EXPECT_EQ(checked, 9);  // every tensor but the i32 one
}

}  // namespace
}  // namespace mx
