// The architecture registry: for each supported architecture, how to bind one layer's weights.
// One file per architecture (arch/llama.cpp, qwen2.cpp, qwen3.cpp, qwen3moe.cpp, deepseek2.cpp,
// glm4moe.cpp, minimax_m2.cpp); the forward pass they share is model/dense_forward.cpp
// (moe_forward.cpp for MoE FFNs, mla_forward.cpp for MLA attention), driven by which weights were
// bound.
#pragma once

#include "model/layers.h"

namespace mx {

struct ArchSpec {
  Arch arch;
  const char* name;
  Status (*bind_layer)(WeightBinder& binder, int64_t layer, LayerWeights& out);
};

const ArchSpec& llama_arch();
const ArchSpec& qwen2_arch();
const ArchSpec& qwen3_arch();
const ArchSpec& qwen3moe_arch();
const ArchSpec& deepseek2_arch();
const ArchSpec& glm4moe_arch();
const ArchSpec& minimax_m2_arch();

const ArchSpec& arch_spec(Arch arch);

}  // namespace mx
