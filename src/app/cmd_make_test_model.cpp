// mxserve make-test-model: a random-weight model of a supported architecture with a real
// tokenizer, deterministic by seed, as a GGUF file or a Hugging Face folder.
#include <fmt/format.h>

#include <string>

#include "app/commands.h"
#include "model/test_model_writer.h"

namespace mx::app {
namespace {

struct MakeTestModelFlags {
  std::string arch = "qwen3";
  std::string size = "tiny";
  std::string tokenizer;
  std::string out;
  std::string format = "gguf";
  std::string type = "f32";
  uint64_t seed = 1;
  bool dense_ffn = false;
};

int run_make_test_model(const MakeTestModelFlags& flags) {
  TestModelRequest request;
  if (flags.arch == "llama") {
    request.spec.arch = Arch::kLlama;
  } else if (flags.arch == "qwen2") {
    request.spec.arch = Arch::kQwen2;
  } else if (flags.arch == "qwen3") {
    request.spec.arch = Arch::kQwen3;
  } else if (flags.arch == "qwen3moe") {
    request.spec.arch = Arch::kQwen3Moe;
  } else if (flags.arch == "deepseek2") {
    request.spec.arch = Arch::kDeepseek2;
  } else if (flags.arch == "glm4moe") {
    request.spec.arch = Arch::kGlm4Moe;
  } else if (flags.arch == "minimax-m2") {
    request.spec.arch = Arch::kMinimaxM2;
  } else {
    fmt::print(stderr,
               "mxserve make-test-model: unknown --arch '{}' (llama, qwen2, qwen3, qwen3moe, "
               "deepseek2, glm4moe, minimax-m2)\n",
               flags.arch);
    return 2;
  }
  request.spec.size = flags.size == "bench" ? TestModelSize::kBench : TestModelSize::kTiny;
  request.spec.seed = flags.seed;
  request.spec.dense_ffn = flags.dense_ffn;
  request.tokenizer_dir = flags.tokenizer;
  request.out = flags.out;
  request.hf_format = flags.format == "hf";
  auto type = parse_test_model_type(flags.type);
  if (!type.ok()) {
    fmt::print(stderr, "mxserve make-test-model: {}\n", type.error().message);
    return 2;
  }
  request.type = *type;
  Status status = write_test_model(request);
  if (!status.ok()) {
    fmt::print(stderr, "mxserve make-test-model: {}\n", status.error().message);
    return 1;
  }
  return 0;
}

}  // namespace

void register_make_test_model(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<MakeTestModelFlags>();
  CLI::App* sub = app.add_subcommand(
      "make-test-model", "Write a random-weight test model with a real tokenizer");
  sub->add_option("--arch", flags->arch,
                  "llama | qwen2 | qwen3 | qwen3moe | deepseek2 | glm4moe | minimax-m2")
      ->capture_default_str();
  sub->add_option("--size", flags->size,
                  "tiny | bench (Qwen3-0.6B / Llama-3.2-1B / Qwen3-30B-A3B / DeepSeek-V2-Lite / "
                  "GLM-4.5-Air / MiniMax-M2 shaped)")
      ->check(CLI::IsMember({"tiny", "bench"}))
      ->capture_default_str();
  sub->add_option("--tokenizer", flags->tokenizer, "Folder with tokenizer.json")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--out", flags->out, "Output .gguf file or folder (--format hf)")->required();
  sub->add_option("--format", flags->format, "gguf | hf")
      ->check(CLI::IsMember({"gguf", "hf"}))
      ->capture_default_str();
  sub->add_option("--type", flags->type, "f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m; fp8 (HF only)")
      ->capture_default_str();
  sub->add_option("--seed", flags->seed, "Random seed")->capture_default_str();
  sub->add_flag("--dense-ffn", flags->dense_ffn, "deepseek2: dense FFN in every layer (no MoE)");
  sub->callback([flags, &exit_code] { exit_code = run_make_test_model(*flags); });
}

}  // namespace mx::app
