// The engine with an INT8 KV cache (EngineConfig::kv_dtype = I8) on the tiny qwen3: batched
// sequences with chunked prefill and decode give the greedy tokens of each sequence decoded
// alone over an int8 cache (SingleSequence), and stay close to the f32 cache's tokens.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine_stream.h"
#include "tiny_model_suite.h"

namespace mx {
namespace {

class EngineInt8KvTest : public TinyModelSuite {
 protected:
  static std::vector<int32_t> prompt(int64_t n, int32_t salt) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(static_cast<int32_t>((i * 7919 + salt * 104729) % 5000 + 100));
    }
    return p;
  }
};

TEST_F(EngineInt8KvTest, ConcurrentGreedySequencesMatchSingleSequence) {
  constexpr int kN = 4;
  constexpr int64_t kNew = 10;
  std::vector<std::vector<int32_t>> prompts, expected, f32_tokens;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(prompt(7 + 31 * i, i));  // 7..100 tokens: chunked prefill beside decodes
    expected.push_back(reference(prompts[i], kNew, 16, DType::I8));
    f32_tokens.push_back(reference(prompts[i], kNew, 16, DType::F32));
  }
  EngineConfig config = small_config(64);
  config.kv_dtype = DType::I8;
  auto engine = Engine::create(*model_, config);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  std::vector<Stream> streams(kN);
  for (int i = 0; i < kN; ++i) {
    EngineRequest r;
    r.prompt = prompts[i];
    r.sampling.temperature = 0;
    r.max_new_tokens = kNew;
    r.on_event = streams[i].callback();
    ASSERT_TRUE((*engine)->submit(std::move(r)).ok());
  }
  int64_t same_as_f32 = 0;
  for (int i = 0; i < kN; ++i) {
    streams[i].wait();
    EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i;
    // Quantization may flip a near-tie late in a random-weight model's output, not the start.
    EXPECT_EQ(streams[i].tokens[0], f32_tokens[i][0]) << "sequence " << i;
    for (int64_t t = 0; t < kNew; ++t) same_as_f32 += expected[i][t] == f32_tokens[i][t];
  }
  std::printf("int8 KV greedy tokens equal to the f32 cache's: %ld of %ld\n", long(same_as_f32),
              long(kN * kNew));
  EXPECT_EQ(idle_stats(**engine).kv_blocks_used, 0);
}

TEST_F(EngineInt8KvTest, ConfigAcceptsInt8AndRejectsOtherTypes) {
  EngineConfig config = small_config(8);
  config.kv_dtype = DType::I8;
  EXPECT_TRUE(config.validate().ok());
  config.kv_dtype = DType::Q8_0;
  Status status = config.validate();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("int8"), std::string::npos) << status.error().message;
}

}  // namespace
}  // namespace mx
