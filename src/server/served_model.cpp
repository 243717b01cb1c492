#include "server/served_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace mx {
namespace {

// End-of-turn / end-of-text tokens of the chat formats mxserve serves (ChatML / Qwen, Llama 3,
// DeepSeek, GLM, Llama 2 / Mistral).
constexpr const char* kEndOfTurnTokens[] = {
    "<|im_end|>",      "<|endoftext|>",   "<|eot_id|>",
    "<|end_of_text|>", "<|eom_id|>",      "<｜end▁of▁sentence｜>",
    "<|user|>",        "<|observation|>", "</s>",
};

void add_unique(std::vector<int32_t>& ids, int32_t id) {
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
}

void add_generation_config_ids(const std::string& path, std::vector<int32_t>& ids) {
  const auto config = std::filesystem::path(path) / "generation_config.json";
  if (!std::filesystem::is_regular_file(config)) return;
  std::ifstream in(config);
  auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.contains("eos_token_id")) return;
  const auto& eos = json["eos_token_id"];
  if (eos.is_number_integer()) add_unique(ids, eos.get<int32_t>());
  if (eos.is_array()) {
    for (const auto& id : eos) {
      if (id.is_number_integer()) add_unique(ids, id.get<int32_t>());
    }
  }
}

}  // namespace

std::vector<int32_t> generation_stop_ids(const Tokenizer& tokenizer, const std::string& path) {
  std::vector<int32_t> ids;
  if (auto eos = tokenizer.eos_id()) add_unique(ids, *eos);
  for (const char* text : kEndOfTurnTokens) {
    auto id = tokenizer.token_id(text);
    // Only as a special/added token: "</s>" spelled by a byte-level vocabulary is ordinary text.
    if (id && tokenizer.is_special(*id)) add_unique(ids, *id);
  }
  if (std::filesystem::is_directory(path)) add_generation_config_ids(path, ids);
  std::erase_if(ids, [&](int32_t id) { return id < 0 || id >= tokenizer.vocab_size(); });
  return ids;
}

Result<std::unique_ptr<ServedModel>> ServedModel::load(const std::string& path, std::string name) {
  auto served = std::make_unique<ServedModel>();
  served->path = path;
  if (name.empty()) {
    std::filesystem::path p(path);
    if (!p.has_filename()) p = p.parent_path();
    name = p.filename().string();
  }
  served->name = std::move(name);
  served->created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  MX_ASSIGN_OR_RETURN(served->model, Model::load(path));
  MX_ASSIGN_OR_RETURN(served->tokenizer, Tokenizer::load(path));
  auto chat_template = ChatTemplate::load(path);
  if (chat_template.ok()) {
    served->chat_template = std::move(*chat_template);
  } else {
    spdlog::warn("{}: no usable chat template ({}); /v1/chat/completions is disabled", path,
                 chat_template.error().message);
  }
  served->stop_token_ids = generation_stop_ids(*served->tokenizer, path);
  return served;
}

}  // namespace mx
