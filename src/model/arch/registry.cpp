#include "model/arch/registry.h"

namespace mx {

const ArchSpec& arch_spec(Arch arch) {
  switch (arch) {
    case Arch::kLlama: return llama_arch();
    case Arch::kQwen2: return qwen2_arch();
    case Arch::kQwen3: return qwen3_arch();
    case Arch::kQwen3Moe: return qwen3moe_arch();
    case Arch::kDeepseek2: return deepseek2_arch();
    case Arch::kGlm4Moe: return glm4moe_arch();
    case Arch::kMinimaxM2:
      return minimax_m2_arch();
  }
  return llama_arch();
}

}  // namespace mx
