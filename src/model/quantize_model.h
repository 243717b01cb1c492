// Re-quantizing a model into a GGUF file (`mxserve quantize`), one tensor at a time so models
// larger than memory can be converted: the output's header is written from the tensors'
// names, types and shapes first, then each tensor is read (memory-mapped), converted to float
// rows, quantized and written before the next is touched.
//
// What is quantized: every weight matrix (2-D or stacked 3-D experts) except the token
// embedding (kept in a type get_rows reads: Q8_0, or F16 when rows are not a multiple of 32)
// and MoE routers (ffn_gate_inp, kept F32 as llama.cpp does). 1-D tensors (norms, biases,
// rope_freqs) are F32. Matrices whose rows do not fit the target type fall back to Q8_0, then
// F16.
//
// W8A8 (mxserve-specific, llama.cpp cannot run it): each matrix becomes an I8 tensor plus an F32
// tensor "<name>.scale" of shape [..., rows] (one symmetric scale max|row| / 127 per row;
// matmul.h, docs/architecture.md).
//
// Sources: a GGUF file (every metadata key is copied; general.file_type is dropped, since it
// would misdescribe the new mix) or a Hugging Face folder of a dense model (llama, qwen2,
// qwen3: config keys and tokenizer written as llama.cpp's converter writes them, llama Q/K rows
// permuted to GGUF order). Sources already quantized are expanded to float first (allowed, with a
// warning: the error of both quantizations adds up).
#pragma once

#include <string>

#include "core/dtype.h"
#include "core/status.h"

namespace mx {

struct QuantizeRequest {
  std::string in;    // GGUF file or Hugging Face folder
  std::string out;   // .gguf file to write
  std::string type;  // "w8a8", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "f16", "bf16", "f32"
  int threads = 2;
};

Status quantize_model(const QuantizeRequest& request);

}  // namespace mx
