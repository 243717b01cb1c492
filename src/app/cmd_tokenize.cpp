// mxserve tokenize --tokenizer DIR|MODEL --text-file F [--add-special] [--jsonl]
//
// Prints the token ids of the text as a JSON array. Special-token strings in the text
// (<|im_start|>, <s>) are recognised as their tokens, as Hugging Face does by default;
// --add-special adds what the model adds around a prompt (BOS for Llama). With --jsonl the file
// holds one JSON string (or {"text": ...} object) per line, and one array is printed per line:
// one process for a whole corpus.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/commands.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace mx::app {
namespace {

struct TokenizeOptions {
  std::string tokenizer_path;
  std::string text_file;
  bool add_special = false;
  bool jsonl = false;
};

void print_ids(const std::vector<int32_t>& ids, std::string& out) {
  out += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  out += "]\n";
}

Status tokenize_jsonl(const Tokenizer& tokenizer, const std::string& content, bool add_special,
                      std::string& out) {
  std::istringstream lines(content);
  std::string line;
  std::vector<int32_t> ids;
  for (size_t number = 1; std::getline(lines, line); ++number) {
    if (line.empty()) continue;
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      return make_error(ErrorCode::kInvalidArgument, "line {}: invalid JSON: {}", number, e.what());
    }
    if (entry.is_object() && entry.contains("text")) entry = entry["text"];
    if (!entry.is_string()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "line {}: expected a JSON string or an object with \"text\"", number);
    }
    ids.clear();
    tokenizer.encode_into(entry.get_ref<const std::string&>(), add_special, ids);
    print_ids(ids, out);
  }
  return ok_status();
}

Status run_tokenize(const TokenizeOptions& options) {
  MX_ASSIGN_OR_RETURN(std::string text, read_text_file(options.text_file));
  MX_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::load(options.tokenizer_path));
  std::string out;
  if (options.jsonl) {
    MX_RETURN_IF_ERROR(tokenize_jsonl(*tokenizer, text, options.add_special, out));
  } else {
    print_ids(tokenizer->encode(text, options.add_special), out);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return ok_status();
}

}  // namespace

void register_tokenize(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "Print the token ids of a text as JSON");
  command->add_option("--tokenizer", options->tokenizer_path,
                      "Folder with tokenizer.json, or a .gguf model")
      ->required()
      ->envname("MXSERVE_TOKENIZER");
  command->add_option("--text-file", options->text_file, "UTF-8 text to tokenize")->required();
  command->add_flag("--add-special", options->add_special,
                    "Add the model's BOS/EOS as its tokenizer config says");
  command->add_flag("--jsonl", options->jsonl,
                    "The text file holds one JSON string per line; print one array per line");
  command->callback([options, &exit_code] {
    Status status = run_tokenize(*options);
    if (!status.ok()) {
      fmt::print(stderr, "mxserve tokenize: {}\n", status.error().message);
      exit_code = 1;
    }
  });
}

}  // namespace mx::app
