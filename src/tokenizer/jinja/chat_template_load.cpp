// Finding a model's chat template and special tokens on disk.
//
// Hugging Face folders keep the template in chat_template.jinja (newer transformers),
// chat_template.json ({"chat_template": ...}) or tokenizer_config.json's "chat_template", which
// is a string or a list of {"name", "template"} (use "default" unless a name is asked for, e.g.
// "tool_use"). Special tokens are strings or AddedToken objects {"content": ...}.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/gguf.h"
#include "tokenizer/jinja/chat_template.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "{}: cannot open file", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<Json> read_json(const fs::path& path) {
  MX_ASSIGN_OR_RETURN(std::string text, read_file(path));
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kCorruptData, "{}: invalid JSON: {}", path.string(), e.what());
  }
}

// GGUF (llama.cpp's keys): tokenizer.chat_template, or tokenizer.chat_template.<name> for named
// ones; special tokens are ids (tokenizer.ggml.bos_token_id, ...) into tokenizer.ggml.tokens.
Result<ChatTemplate> load_from_gguf(const std::string& path, const std::string& name, ChatTemplateOptions options) {
  MX_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
  std::string key = "tokenizer.chat_template";
  if (!name.empty() && name != "default") key += "." + name;
  if (file.find(key) == nullptr) {
    return make_error(ErrorCode::kNotFound, "{}: no chat template ({} is not in the GGUF metadata)", path, key);
  }
  MX_ASSIGN_OR_RETURN(std::string_view source, file.get_string(key));
  std::map<std::string, std::string> tokens;
  if (file.find("tokenizer.ggml.tokens") != nullptr) {
    MX_ASSIGN_OR_RETURN(std::span<const std::string_view> vocab, file.get_string_array("tokenizer.ggml.tokens"));
    const std::pair<const char*, const char*> ids[] = {{"tokenizer.ggml.bos_token_id", "bos_token"},
                                                       {"tokenizer.ggml.eos_token_id", "eos_token"},
                                                       {"tokenizer.ggml.unknown_token_id", "unk_token"},
                                                       {"tokenizer.ggml.padding_token_id", "pad_token"}};
    for (const auto& [id_key, token_name] : ids) {
      if (file.find(id_key) == nullptr) continue;
      MX_ASSIGN_OR_RETURN(uint32_t id, file.get_u32(id_key));
      if (id >= vocab.size()) {
        return make_error(ErrorCode::kCorruptData, "{}: {} = {} is beyond the {} tokens", path, id_key, id, vocab.size());
      }
      tokens[token_name] = std::string(vocab[id]);
    }
  }
  return ChatTemplate::create(std::string(source), std::move(tokens), options);
}

// "chat_template" as a string or a list of named templates.
Result<std::string> pick_template(const Json& value, const std::string& name, const std::string& where) {
  if (value.is_string()) {
    if (!name.empty() && name != "default") {
      return make_error(ErrorCode::kNotFound, "{}: has a single chat template, no template named '{}'", where, name);
    }
    return value.get<std::string>();
  }
  if (!value.is_array()) {
    return make_error(ErrorCode::kCorruptData, "{}: \"chat_template\" must be a string or a list", where);
  }
  std::string wanted = name.empty() ? "default" : name;
  std::string names;
  for (const Json& entry : value) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template")) continue;
    if (!entry["name"].is_string() || !entry["template"].is_string()) continue;
    if (entry["name"].get<std::string>() == wanted) return entry["template"].get<std::string>();
    names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
  }
  return make_error(ErrorCode::kNotFound, "{}: no chat template named '{}' (available: {})", where, wanted, names);
}

std::map<std::string, std::string> special_tokens_of(const Json& config) {
  std::map<std::string, std::string> tokens;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"}) {
    auto it = config.find(key);
    if (it == config.end()) continue;
    if (it->is_string()) {
      tokens[key] = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      tokens[key] = (*it)["content"].get<std::string>();
    }
  }
  return tokens;
}

Result<ChatTemplate> load_from_folder(const fs::path& folder, const std::string& name, ChatTemplateOptions options) {
  fs::path config_path = folder / "tokenizer_config.json";
  Json config = Json::object();
  if (fs::exists(config_path)) {
    MX_ASSIGN_OR_RETURN(config, read_json(config_path));
  }
  std::map<std::string, std::string> tokens = special_tokens_of(config);
  if (fs::exists(folder / "chat_template.jinja") && (name.empty() || name == "default")) {
    MX_ASSIGN_OR_RETURN(std::string source, read_file(folder / "chat_template.jinja"));
    return ChatTemplate::create(std::move(source), std::move(tokens), options);
  }
  if (fs::exists(folder / "chat_template.json")) {
    MX_ASSIGN_OR_RETURN(Json file, read_json(folder / "chat_template.json"));
    if (file.contains("chat_template")) {
      MX_ASSIGN_OR_RETURN(std::string source, pick_template(file["chat_template"], name, (folder / "chat_template.json").string()));
      return ChatTemplate::create(std::move(source), std::move(tokens), options);
    }
  }
  if (!config.contains("chat_template") || config["chat_template"].is_null()) {
    return make_error(ErrorCode::kNotFound,
                      "{}: no chat template (looked for chat_template.jinja, chat_template.json and "
                      "\"chat_template\" in tokenizer_config.json)",
                      folder.string());
  }
  MX_ASSIGN_OR_RETURN(std::string source, pick_template(config["chat_template"], name, config_path.string()));
  return ChatTemplate::create(std::move(source), std::move(tokens), options);
}

}  // namespace

Result<ChatTemplate> ChatTemplate::load(const std::string& path, const std::string& name, ChatTemplateOptions options) {
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return load_from_folder(p, name, options);
  if (!fs::exists(p, ec)) return make_error(ErrorCode::kNotFound, "{}: no such file or folder", path);
  if (p.extension() == ".gguf") return load_from_gguf(path, name, options);
  if (p.filename() == "tokenizer_config.json") {
    MX_ASSIGN_OR_RETURN(Json config, read_json(p));
    if (!config.contains("chat_template") || config["chat_template"].is_null()) {
      return make_error(ErrorCode::kNotFound, "{}: no \"chat_template\" entry", path);
    }
    MX_ASSIGN_OR_RETURN(std::string source, pick_template(config["chat_template"], name, path));
    return ChatTemplate::create(std::move(source), special_tokens_of(config), options);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "{}: expected a model folder, a tokenizer_config.json or a .gguf file", path);
}

}  // namespace mx
