// ModelCard: what the serving layer needs of the model it serves, without its weights — the
// tokenizer, the chat template (if any), the token ids that end a generation (EOS and the chat
// format's end-of-turn tokens), the name clients call it by, the model's context length and the
// fingerprint of its weights. A frontend (no weights) loads one from the same GGUF file or HF
// folder its workers serve, and routes only to workers that announce the same fingerprint;
// `serve` loads one beside the Model.
//
// Loading reads metadata only: a GGUF's header and tensor directory (the file is mapped; the
// weight pages are not read, beyond the few bytes per tensor the fingerprint samples), an HF
// folder's tokenizer, config and generation-config files and its safetensors headers. An HF
// folder without weight files gives a card with fingerprint 0 ("unknown": workers are then
// matched by model name alone).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mx {

struct ModelCard {
  // path: GGUF file or HF folder. name: the id in /v1/models; empty → the file or folder name.
  static Result<std::unique_ptr<ModelCard>> load(const std::string& path, std::string name);

  std::string name;
  std::string path;
  int64_t created = 0;  // unix seconds, for /v1/models
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;
  std::vector<int32_t> stop_token_ids;
  int64_t context_length = 0;        // the model's (the engine may serve less: EngineLimits)
  uint64_t weights_fingerprint = 0;  // Model::fingerprint(); 0: unknown
};

// EOS, the end-of-turn tokens of the common chat formats that the vocabulary has, and (HF
// folders) generation_config.json's eos_token_id.
std::vector<int32_t> generation_stop_ids(const Tokenizer& tokenizer, const std::string& path);

}  // namespace mx
