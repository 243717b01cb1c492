#include "model/test_model.h"

#include <cmath>
#include <numbers>

namespace mx {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

// Fills `out` with N(mean, stddev) from a generator seeded by (seed, name).
void fill_normal(std::vector<float>& out, uint64_t seed, const std::string& name, double mean,
                 double stddev) {
  uint64_t state = seed ^ fnv1a(name);
  constexpr double kTwoPi = 2.0 * std::numbers::pi;
  for (size_t i = 0; i < out.size(); i += 2) {
    // Box-Muller on two uniforms in (0, 1].
    double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
    double radius = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(mean + stddev * radius * std::cos(kTwoPi * u2));
    if (i + 1 < out.size()) {
      out[i + 1] = static_cast<float>(mean + stddev * radius * std::sin(kTwoPi * u2));
    }
  }
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Gain of a matrix by its role; values are N(0, 1) * gain / sqrt(fan_in).
double matrix_gain(const std::string& name) {
  if (name == "output.weight") return 3.0;  // output logits with a std of ~3
  if (name.find("attn_q.") != std::string::npos || name.find("attn_k.") != std::string::npos ||
      name.find("attn_q_b.") != std::string::npos || name.find("attn_kv_b.") != std::string::npos) {
    return 2.0;  // attention scores with a std of ~4: far from uniform
  }
  // Router logits with a std of ~3: a few experts take most of the weight, and a router that
  // picks the wrong experts or weights changes the output.
  if (name.find("ffn_gate_inp.") != std::string::npos) return 3.0;
  return 1.0;
}

// A MoE layer's router and experts. Each expert family is one tensor [n_experts, rows, cols]
// (GGUF's form); hf_name is the per-expert stem, "model.layers.N.mlp.experts.{}.gate_proj.weight"
// with {} for the expert index (HF folders store one matrix per expert).
void add_moe_layer(const ModelConfig& c, const std::string& p, const std::string& h,
                   std::vector<GeneratedTensor>& out) {
  const MoeConfig& moe = c.moe;
  const int64_t f = moe.expert_ffn_hidden;
  out.push_back({p + "ffn_gate_inp.weight", h + "mlp.gate.weight", {moe.n_experts, c.d_model},
                 {}, false});
  auto experts = [&](const char* stem, const char* hf, int64_t rows, int64_t cols) {
    out.push_back({p + stem + ".weight", h + "mlp.experts.{}." + hf + ".weight",
                   {moe.n_experts, rows, cols}, {}, false});
  };
  experts("ffn_gate_exps", "gate_proj", f, c.d_model);
  experts("ffn_up_exps", "up_proj", f, c.d_model);
  experts("ffn_down_exps", "down_proj", c.d_model, f);
}

}  // namespace

ModelConfig test_model_config(const TestModelSpec& spec) {
  if (spec.arch == Arch::kDeepseek2) return deepseek2_test_config(spec);
  if (spec.arch == Arch::kGlm4Moe) return glm4moe_test_config(spec);
  if (spec.arch == Arch::kMinimaxM2) return minimax_m2_test_config(spec);
  ModelConfig c;
  c.arch = spec.arch;
  c.vocab_size = spec.vocab_size;
  c.rms_eps = 1e-6f;
  c.context_length = 4096;
  c.qkv_bias = spec.arch == Arch::kQwen2;
  c.qk_norm = spec.arch == Arch::kQwen3 || spec.arch == Arch::kQwen3Moe;
  const bool bench = spec.size == TestModelSize::kBench;
  if (spec.arch == Arch::kLlama) {
    // Llama-3.2-1B shaped (bench) with its Llama-3 RoPE scaling.
    c.n_layers = bench ? 16 : 2;
    c.d_model = bench ? 2048 : 256;
    c.n_heads = bench ? 32 : 4;
    c.n_kv_heads = bench ? 8 : 2;
    c.head_dim = 64;
    c.ffn_hidden = bench ? 8192 : 512;
    c.rope_theta = 500000.0f;
    c.context_length = 131072;
    c.rope_scaling.kind = RopeScalingConfig::Kind::kLlama3;
    c.rope_scaling.factor = 32.0f;
    c.rope_scaling.low_freq_factor = 1.0f;
    c.rope_scaling.high_freq_factor = 4.0f;
    c.rope_scaling.original_context = 8192;
    c.tie_embeddings = bench;
  } else if (spec.arch == Arch::kQwen2) {
    c.n_layers = bench ? 24 : 2;
    c.d_model = bench ? 896 : 256;
    c.n_heads = bench ? 14 : 4;
    c.n_kv_heads = 2;
    c.head_dim = 64;
    c.ffn_hidden = bench ? 4864 : 512;
    c.rope_theta = 1000000.0f;
    c.context_length = 32768;
    c.tie_embeddings = bench;
  } else if (spec.arch == Arch::kQwen3Moe) {
    // Qwen3-30B-A3B shaped, scaled down. bench: d_model 1024, 16 layers, 64 experts of FFN 512,
    // top-8 (1.86 B parameters, 0.44 B active per token with the tied 152k x 1024 embedding).
    // tiny: 8 experts, top-3, so every expert gets several tokens of a 40-token prompt.
    c.n_layers = bench ? 16 : 2;
    c.d_model = bench ? 1024 : 256;
    c.n_heads = bench ? 16 : 4;
    c.n_kv_heads = bench ? 4 : 2;
    c.head_dim = 128;
    c.ffn_hidden = bench ? 3072 : 512;  // intermediate_size: unused (no dense layers)
    c.rope_theta = 1000000.0f;
    c.context_length = 40960;
    c.tie_embeddings = true;
    c.moe.n_experts = bench ? 64 : 8;
    c.moe.n_experts_used = bench ? 8 : 3;
    c.moe.expert_ffn_hidden = bench ? 512 : 256;
    c.moe.normalize_top_k = true;
  } else {
    // Qwen3-0.6B shaped (bench): head_dim 128 with 16 heads, so n_heads * head_dim != d_model.
    c.n_layers = bench ? 28 : 2;
    c.d_model = bench ? 1024 : 256;
    c.n_heads = bench ? 16 : 4;
    c.n_kv_heads = bench ? 8 : 2;
    c.head_dim = 128;
    c.ffn_hidden = bench ? 3072 : 512;
    c.rope_theta = 1000000.0f;
    c.context_length = 40960;
    c.tie_embeddings = true;
  }
  c.rope_dims = c.head_dim;
  return c;
}

std::vector<GeneratedTensor> test_model_layout(const ModelConfig& c) {
  std::vector<GeneratedTensor> out;
  if (c.arch == Arch::kDeepseek2) {
    add_deepseek2_layout(c, out);
    return out;
  }
  if (c.arch == Arch::kGlm4Moe) {
    add_glm4moe_layout(c, out);
    return out;
  }
  if (c.arch == Arch::kMinimaxM2) {
    add_minimax_m2_layout(c, out);
    return out;
  }
  auto add = [&out](std::string name, std::string hf_name, std::vector<int64_t> shape,
                    bool is_norm) {
    out.push_back(GeneratedTensor{std::move(name), std::move(hf_name), std::move(shape), {},
                                  is_norm});
  };
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  add("token_embd.weight", "model.embed_tokens.weight", {c.vocab_size, c.d_model}, false);
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const std::string p = "blk." + std::to_string(layer) + ".";
    const std::string h = "model.layers." + std::to_string(layer) + ".";
    auto projection = [&](const char* name, const char* hf, int64_t rows, bool bias) {
      add(p + name + ".weight", h + hf + ".weight", {rows, c.d_model}, false);
      if (bias) add(p + name + ".bias", h + hf + ".bias", {rows}, true);
    };
    add(p + "attn_norm.weight", h + "input_layernorm.weight", {c.d_model}, true);
    projection("attn_q", "self_attn.q_proj", q_dim, c.qkv_bias);
    projection("attn_k", "self_attn.k_proj", kv_dim, c.qkv_bias);
    projection("attn_v", "self_attn.v_proj", kv_dim, c.qkv_bias);
    if (c.qk_norm) {
      add(p + "attn_q_norm.weight", h + "self_attn.q_norm.weight", {c.head_dim}, true);
      add(p + "attn_k_norm.weight", h + "self_attn.k_norm.weight", {c.head_dim}, true);
    }
    add(p + "attn_output.weight", h + "self_attn.o_proj.weight", {c.d_model, q_dim}, false);
    add(p + "ffn_norm.weight", h + "post_attention_layernorm.weight", {c.d_model}, true);
    if (c.moe.is_moe_layer(layer)) {
      add_moe_layer(c, p, h, out);
      continue;
    }
    add(p + "ffn_gate.weight", h + "mlp.gate_proj.weight", {c.ffn_hidden, c.d_model}, false);
    add(p + "ffn_up.weight", h + "mlp.up_proj.weight", {c.ffn_hidden, c.d_model}, false);
    add(p + "ffn_down.weight", h + "mlp.down_proj.weight", {c.d_model, c.ffn_hidden}, false);
  }
  add("output_norm.weight", "model.norm.weight", {c.d_model}, true);
  if (!c.tie_embeddings) add("output.weight", "lm_head.weight", {c.vocab_size, c.d_model}, false);
  return out;
}

void generate_test_tensor(const ModelConfig& config, uint64_t seed, GeneratedTensor& tensor) {
  int64_t numel = 1;
  for (int64_t d : tensor.shape) numel *= d;
  tensor.values.assign(static_cast<size_t>(numel), 0.0f);
  const std::string& name = tensor.name;
  if (name.find("exp_probs_b") != std::string::npos) {
    fill_normal(tensor.values, seed, name, 0.0, 0.05);  // shifts sigmoid scores (0..1) a little
  } else if (ends_with(name, ".bias")) {
    fill_normal(tensor.values, seed, name, 0.0, 0.5);
  } else if (name.find("attn_q_norm") != std::string::npos ||
             name.find("attn_k_norm") != std::string::npos) {
    fill_normal(tensor.values, seed, name, 2.0, 0.2);  // scores with a std of ~4 after q/k norm
  } else if (tensor.is_norm) {
    fill_normal(tensor.values, seed, name, 1.0, 0.2);
  } else if (name == "token_embd.weight") {
    // Tied embeddings double as the output projection: scale them like it (logit std ~3).
    const double stddev = config.tie_embeddings ? 3.0 / std::sqrt(static_cast<double>(config.d_model)) : 1.0;
    fill_normal(tensor.values, seed, name, 0.0, stddev);
  } else {
    const double fan_in = static_cast<double>(tensor.shape.back());
    fill_normal(tensor.values, seed, name, 0.0, matrix_gain(name) / std::sqrt(fan_in));
  }
}

std::vector<float> permute_rows_for_interleaved_rope(const std::vector<float>& values,
                                                     int64_t n_head, int64_t head_dim,
                                                     int64_t cols) {
  std::vector<float> out(values.size());
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t s = 0; s < 2; ++s) {
        const float* src = &values[((h * head_dim) + s * half + i) * cols];
        float* dst = &out[((h * head_dim) + 2 * i + s) * cols];
        std::copy(src, src + cols, dst);
      }
    }
  }
  return out;
}

std::vector<float> llama3_rope_freq_factors(const ModelConfig& c) {
  const RopeScalingConfig& s = c.rope_scaling;
  const double old_ctx = static_cast<double>(s.original_context);
  const double low_wavelen = old_ctx / s.low_freq_factor;
  const double high_wavelen = old_ctx / s.high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < c.rope_dims / 2; ++i) {
    double freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.rope_dims);
    double wavelen = 2.0 * std::numbers::pi / freq;
    double factor = 1.0;
    if (wavelen > low_wavelen) {
      factor = s.factor;
    } else if (wavelen >= high_wavelen) {
      double smooth = (old_ctx / wavelen - s.low_freq_factor) /
                      (s.high_freq_factor - s.low_freq_factor);
      factor = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    factors.push_back(static_cast<float>(factor));
  }
  return factors;
}

}  // namespace mx
