#include "model/gguf_model_meta.h"

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"

namespace mx {

std::string read_hf_chat_template(const std::string& tokenizer_dir) {
  auto text = read_text_file(tokenizer_dir + "/tokenizer_config.json");
  if (!text.ok()) return "";
  auto config = nlohmann::json::parse(*text, nullptr, false);
  if (config.is_discarded() || !config.contains("chat_template")) return "";
  const auto& tmpl = config["chat_template"];
  return tmpl.is_string() ? tmpl.get<std::string>() : "";
}

void set_gguf_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& name) {
  const std::string a = arch_name(c.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.name", name);
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.context_length));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.d_model));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.ffn_hidden));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_f32(a + ".rope.freq_base", c.rope_theta);
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(c.rope_dims));
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
}

}  // namespace mx
