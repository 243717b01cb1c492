#include "model/quantize_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>

#include "core/thread_pool.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "io/hf_model.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quants.h"
#include "model/model_config.h"
#include "model/test_model.h"
#include "model/test_model_writer.h"
#include "tokenizer/gguf_tokenizer_export.h"
#include "tokenizer/tokenizer_json.h"

namespace mx {
namespace {

constexpr const char* kScaleSuffix = ".scale";

struct Target {
  bool w8a8 = false;
  DType type = DType::F32;  // the matrices' type (I8 for w8a8)
};

Result<Target> parse_target(const std::string& name) {
  std::string lower = name;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "w8a8") return Target{true, DType::I8};
  auto type = dtype_from_name(lower);
  if (type && *type != DType::I8 && can_quantize(*type) && matmul_supports(*type)) {
    return Target{false, *type};
  }
  return make_error(
      ErrorCode::kInvalidArgument,
      "unknown --type '{}' (w8a8, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, "
      "q6_K, iq4_nl, iq4_xs, mxfp4, f16, bf16, f32)",
      name);
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One tensor of the output, in write order.
struct OutTensor {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> shape;
  const TensorInfo* src = nullptr;  // nullptr: the row scales of the I8 tensor before it
  int64_t permute_heads = 0;        // HF llama attn_q / attn_k: heads to permute to GGUF order
  std::vector<float> values;        // a tensor made here (rope_freqs from an HF config)
};

DType choose_type(const TensorInfo& t, const Target& target) {
  const int64_t cols = t.shape.back();
  if (t.shape.size() == 1 || t.name.find("ffn_gate_inp") != std::string::npos) return DType::F32;
  DType chosen = target.type;
  if (target.w8a8) {
    // get_rows reads the embedding table: W8A8 is for matmul only.
    if (t.name == "token_embd.weight")
      chosen = DType::Q8_0;
    else if (cols % 32 != 0 || cols > 65536)
      chosen = DType::Q8_0;
  }
  if (!row_bytes(chosen, static_cast<uint64_t>(cols))) {
    chosen = row_bytes(DType::Q8_0, static_cast<uint64_t>(cols)) ? DType::Q8_0 : DType::F16;
  }
  return chosen;
}

struct Source {
  std::optional<GgufFile> gguf;
  WeightMap weights;
  ModelConfig config;  // HF folders only
  bool hf = false;
};

Result<Source> open_source(const std::string& in) {
  Source s;
  if (std::filesystem::is_directory(in)) {
    MX_ASSIGN_OR_RETURN(HfModel hf, load_hf_model(in));
    MX_ASSIGN_OR_RETURN(s.config, model_config_from_hf(hf.config, in));
    s.weights = std::move(hf.weights);
    s.hf = true;
    const auto& c = s.config;
    if (c.moe.enabled() || c.mla.enabled()) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: quantizing a Hugging Face MoE / MLA folder is not supported; "
                        "convert it to GGUF (llama.cpp's convert_hf_to_gguf.py) and quantize that",
                        in);
    }
    using Kind = RopeScalingConfig::Kind;
    if (c.rope_scaling.kind != Kind::kNone && c.rope_scaling.kind != Kind::kLlama3) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: rope_scaling of this kind is not written to GGUF by mxserve yet; "
                        "convert the folder with llama.cpp's converter and quantize that GGUF",
                        in);
    }
    return s;
  }
  MX_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(in));
  MX_ASSIGN_OR_RETURN(s.weights, file.to_weight_map());
  s.gguf = std::move(file);
  return s;
}

// The output tensors in write order: the GGUF's own order, or the folder's names sorted.
std::vector<OutTensor> plan_tensors(const Source& s, const Target& target) {
  std::vector<const TensorInfo*> order;
  if (s.gguf) {
    for (const GgufTensor& t : s.gguf->tensors()) {
      order.push_back(s.weights.find(std::string(t.name)));
    }
  } else {
    for (const auto& [name, info] : s.weights.tensors()) order.push_back(&info);
  }
  std::vector<OutTensor> out;
  for (const TensorInfo* t : order) {
    // A W8A8 source's row scales are folded into its matrices and made again where needed.
    if (ends_with(t->name, kScaleSuffix) &&
        s.weights.find(t->name.substr(0, t->name.size() - 6)) != nullptr) {
      continue;
    }
    OutTensor o{t->name, choose_type(*t, target), t->shape, t, 0, {}};
    if (s.hf && s.config.arch == Arch::kLlama) {
      if (t->name.find(".attn_q.") != std::string::npos) o.permute_heads = s.config.n_heads;
      if (t->name.find(".attn_k.") != std::string::npos) o.permute_heads = s.config.n_kv_heads;
    }
    out.push_back(std::move(o));
    if (out.back().type == DType::I8) {
      std::vector<int64_t> scale_shape(t->shape.begin(), t->shape.end() - 1);
      out.push_back({t->name + kScaleSuffix, DType::F32, scale_shape, nullptr, 0, {}});
    }
  }
  if (s.hf && s.config.rope_scaling.kind == RopeScalingConfig::Kind::kLlama3) {
    std::vector<float> factors = llama3_rope_freq_factors(s.config);
    const auto n = static_cast<int64_t>(factors.size());
    out.push_back({"rope_freqs.weight", DType::F32, {n}, nullptr, 0, std::move(factors)});
  }
  return out;
}

// Row `row` of a source tensor as floats (I8 sources with their row scales).
bool source_row(const WeightMap& weights, const TensorInfo& t, int64_t row, float* out) {
  const int64_t cols = t.shape.back();
  const uint64_t bytes = *row_bytes(t.dtype, static_cast<uint64_t>(cols));
  const uint8_t* src = t.data + bytes * static_cast<uint64_t>(row);
  if (t.dtype != DType::I8) return dequantize_row(t.dtype, src, out, cols);
  const TensorInfo* scales = weights.find(t.name + kScaleSuffix);
  if (scales == nullptr || scales->dtype != DType::F32 || scales->numel() * cols != t.numel()) {
    return false;
  }
  const float scale = reinterpret_cast<const float*>(scales->data)[row];
  for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<int8_t>(src[c]) * scale;
  return true;
}

// GGUF (interleaved RoPE) row order of llama Q/K: output row 2i + s of a head is source row
// s * head_dim / 2 + i (as llama.cpp's converter permutes).
int64_t source_row_index(int64_t row, int64_t rows, int64_t n_heads) {
  const int64_t head_dim = rows / n_heads;
  const int64_t h = row / head_dim, r = row % head_dim;
  return h * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

class TensorConverter {
 public:
  TensorConverter(const WeightMap& weights, ThreadPool& pool) : weights_(weights), pool_(pool) {}

  Status fill(const OutTensor& o, std::vector<uint8_t>& bytes) {
    if (!o.values.empty()) {
      bytes.resize(o.values.size() * sizeof(float));
      std::memcpy(bytes.data(), o.values.data(), bytes.size());
      return ok_status();
    }
    if (o.src == nullptr) {  // the scales of the matrix just written
      bytes.resize(scales_.size() * sizeof(float));
      std::memcpy(bytes.data(), scales_.data(), bytes.size());
      return ok_status();
    }
    const TensorInfo& t = *o.src;
    const int64_t cols = t.shape.back();
    const int64_t rows = t.numel() / cols;
    const uint64_t out_row = *row_bytes(o.type, static_cast<uint64_t>(cols));
    bytes.resize(out_row * static_cast<uint64_t>(rows));
    if (o.type == DType::I8) scales_.assign(static_cast<size_t>(rows), 0.0f);
    std::atomic<bool> ok{true};
    pool_.parallel_for(rows, [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t r = begin; r < end; ++r) {
        const int64_t src = o.permute_heads > 0 ? source_row_index(r, rows, o.permute_heads) : r;
        uint8_t* dst = bytes.data() + out_row * static_cast<uint64_t>(r);
        if (!source_row(weights_, t, src, row.data())) {
          ok.store(false);
          return;
        }
        if (o.type == DType::I8) {
          scales_[r] = quantize_row_w8a8(row.data(), reinterpret_cast<int8_t*>(dst), cols);
        } else if (!quantize_row(o.type, row.data(), dst, cols)) {
          ok.store(false);
          return;
        }
      }
    });
    if (!ok.load()) {
      return make_error(ErrorCode::kUnsupported, "tensor '{}': cannot convert {} to {}", t.name,
                        dtype_name(t.dtype), dtype_name(o.type));
    }
    return ok_status();
  }

 private:
  const WeightMap& weights_;
  ThreadPool& pool_;
  std::vector<float> scales_;
};

Status set_metadata(const Source& s, const QuantizeRequest& r, GgufWriter& writer) {
  if (s.gguf) {
    for (const auto& [key, value] : s.gguf->metadata()) {
      // The writer records its own alignment; file_type would misdescribe the new mix.
      if (key == "general.alignment" || key == "general.file_type") continue;
      writer.set(key, GgufWriteValue::copy_of(value));
    }
  } else {
    set_arch_metadata(s.config, writer, std::filesystem::path(r.in).filename().string());
    MX_ASSIGN_OR_RETURN(TokenizerSpec tokenizer, load_tokenizer_json_dir(r.in));
    MX_RETURN_IF_ERROR(add_tokenizer_to_gguf(tokenizer, chat_template_of(r.in), writer));
  }
  writer.set_string("mxserve.quantize.type", r.type);
  return ok_status();
}

}  // namespace

Status quantize_model(const QuantizeRequest& request) {
  MX_ASSIGN_OR_RETURN(Target target, parse_target(request.type));
  MX_ASSIGN_OR_RETURN(Source source, open_source(request.in));
  std::vector<OutTensor> plan = plan_tensors(source, target);
  GgufWriter writer;
  MX_RETURN_IF_ERROR(set_metadata(source, request, writer));
  size_t already_quantized = 0;
  for (const OutTensor& o : plan) {
    MX_RETURN_IF_ERROR(writer.declare_tensor(o.name, o.type, o.shape));
    if (o.src && (o.src->dtype == DType::I8 || dtype_traits(o.src->dtype)->quantized)) {
      ++already_quantized;
    }
    if (o.src && !can_dequantize(o.src->dtype) && o.src->dtype != DType::I8) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: tensor '{}' is stored as {}, which mxserve cannot expand to float; "
                        "start from an f32 / f16 / bf16 model",
                        request.in, o.name, dtype_name(o.src->dtype));
    }
  }
  if (already_quantized > 0) {
    spdlog::warn(
        "{}: {} tensors are already quantized; re-quantizing adds a second rounding "
        "error (start from f16 / bf16 / f32 weights for the best result)",
        request.in, already_quantized);
  }
  spdlog::info("quantizing {} -> {} ({}, {} tensors)", request.in, request.out, request.type,
               plan.size());
  ThreadPool pool(std::max(1, request.threads));
  TensorConverter converter(source.weights, pool);
  return writer.write_file_streaming(request.out, [&](size_t i, std::vector<uint8_t>& bytes) {
    return converter.fill(plan[i], bytes);
  });
}

}  // namespace mx
