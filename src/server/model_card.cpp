#include "server/model_card.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "io/hf_model.h"
#include "model/model.h"
#include "model/model_config.h"

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

// The model's context length from its metadata (0 if it has none).
Result<int64_t> context_length_of(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    MX_ASSIGN_OR_RETURN(nlohmann::json config, read_json_file(path + "/config.json"));
    MX_ASSIGN_OR_RETURN(ModelConfig parsed, model_config_from_hf(config, path));
    return parsed.context_length;
  }
  MX_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
  MX_ASSIGN_OR_RETURN(ModelConfig parsed, model_config_from_gguf(file));
  return parsed.context_length;
}

Result<std::unique_ptr<ModelCard>> ModelCard::load(const std::string& path, std::string name) {
  auto card = std::make_unique<ModelCard>();
  card->path = path;
  if (name.empty()) {
    std::filesystem::path p(path);
    if (!p.has_filename()) p = p.parent_path();
    name = p.filename().string();
  }
  card->name = std::move(name);
  card->created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  MX_ASSIGN_OR_RETURN(card->tokenizer, Tokenizer::load(path));
  auto chat_template = ChatTemplate::load(path);
  if (chat_template.ok()) {
    card->chat_template = std::move(*chat_template);
  } else {
    spdlog::warn("{}: no usable chat template ({}); /v1/chat/completions is disabled", path,
                 chat_template.error().message);
  }
  card->stop_token_ids = generation_stop_ids(*card->tokenizer, path);
  MX_ASSIGN_OR_RETURN(card->context_length, context_length_of(path));
  const bool has_weights = !std::filesystem::is_directory(path) || find_hf_weight_files(path).ok();
  if (has_weights) {
    MX_ASSIGN_OR_RETURN(card->weights_fingerprint, Model::file_fingerprint(path));
  } else {
    spdlog::warn(
        "{}: no weight files, so the weights' fingerprint is unknown: workers are "
        "matched by model name alone",
        path);
  }
  return card;
}

}  // namespace mx
