// ServedModel: what the server needs of the one model it serves — the Model, its Tokenizer,
// its chat template (if it has one), the name clients call it by, and the token ids that end a
// generation (EOS and the chat format's end-of-turn tokens).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mx {

struct ServedModel {
  // path: GGUF file or HF folder. name: the id in /v1/models; empty → the file or folder name.
  static Result<std::unique_ptr<ServedModel>> load(const std::string& path, std::string name);

  std::string name;
  std::string path;
  int64_t created = 0;  // unix seconds, for /v1/models
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;
  std::vector<int32_t> stop_token_ids;
};

// EOS, the end-of-turn tokens of the common chat formats that the vocabulary has, and (HF
// folders) generation_config.json's eos_token_id.
std::vector<int32_t> generation_stop_ids(const Tokenizer& tokenizer, const std::string& path);

}  // namespace mx
