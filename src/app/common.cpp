#include <fmt/format.h>

#include "app/commands.h"
#include "model/kv_cache.h"

namespace mx::app {

void add_model_flag(CLI::App& sub, std::string& model) {
  sub.add_option("-m,--model", model, "GGUF file or Hugging Face model folder")
      ->required()
      ->envname("MXSERVE_MODEL");
}

void add_threads_flag(CLI::App& sub, int& threads) {
  sub.add_option("-t,--threads", threads, "Worker threads (one per core; the caller is one of them)")
      ->envname("MXSERVE_THREADS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}

void add_mla_form_flag(CLI::App& sub, std::string& form) {
  sub.add_option("--mla-form", form,
                 "MLA attention form: auto (by query count) | direct | absorbed")
      ->capture_default_str();
}

Result<Model::MlaForm> parse_mla_form(const std::string& form) {
  if (form == "auto") return Model::MlaForm::kAuto;
  if (form == "direct") return Model::MlaForm::kDirect;
  if (form == "absorbed") return Model::MlaForm::kAbsorbed;
  return make_error(ErrorCode::kInvalidArgument,
                    "--mla-form must be auto, direct or absorbed, got '{}'", form);
}

void add_kv_type_flag(CLI::App& sub, std::string& kv_type) {
  sub.add_option("--kv-type", kv_type,
                 "KV cache element type: f16 | f32 | int8 (one f32 scale per token and head; "
                 "about half of f16's bytes)")
      ->envname("MXSERVE_KV_TYPE")
      ->capture_default_str();
}

Result<DType> parse_kv_type(const std::string& kv_type) {
  if (auto dtype = KvCacheStorage::type_from_name(kv_type)) return *dtype;
  return make_error(ErrorCode::kInvalidArgument, "--kv-type must be f16, f32 or int8, got '{}'",
                    kv_type);
}

void add_pin_flag(CLI::App& sub, bool& pin) {
  sub.add_flag("--pin", pin,
               "Pin compute thread i to CPU i: faster on a machine the process has to itself, "
               "slower when other processes compete for the CPUs")
      ->envname("MXSERVE_PIN");
}

int fail(const char* command, const Error& error, int exit_code) {
  fmt::print(stderr, "mxserve {}: {}\n", command, error.message);
  return exit_code;
}

}  // namespace mx::app
