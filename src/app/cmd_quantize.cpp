// mxserve quantize: re-quantize a GGUF file or Hugging Face folder into a GGUF file, tensor by
// tensor (src/model/quantize_model.h says what is quantized to what).
#include <fmt/format.h>

#include <string>

#include "app/commands.h"
#include "model/quantize_model.h"

namespace mx::app {

void register_quantize(CLI::App& app, int& exit_code) {
  auto request = std::make_shared<QuantizeRequest>();
  CLI::App* sub = app.add_subcommand(
      "quantize", "Re-quantize a model (GGUF or HF folder) into a GGUF file, e.g. --type w8a8");
  add_model_flag(*sub, request->in);
  sub->add_option("--type", request->type,
                  "w8a8 (int8 per-row weights x int8 per-token activations; mxserve only) | "
                  "q8_0 | q4_0 | q4_k | q5_k | q6_k | f16 | bf16 | f32")
      ->required();
  sub->add_option("-o,--out", request->out, "Output .gguf file")->required();
  add_threads_flag(*sub, request->threads);
  sub->callback([request, &exit_code] {
    Status status = quantize_model(*request);
    if (!status.ok()) {
      exit_code = fail("quantize", status.error());
      return;
    }
    fmt::print("wrote {}\n", request->out);
    exit_code = 0;
  });
}

}  // namespace mx::app
