#include "model/layers.h"

#include <fmt/format.h>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quants.h"
#include "model/fp8_weights.h"

namespace mx {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

Result<Matrix> WeightBinder::matrix(const std::string& name, int64_t rows, int64_t cols) {
  MX_ASSIGN_OR_RETURN(const TensorInfo* t, weights_.get(name));
  if (t->shape != std::vector<int64_t>{rows, cols}) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor '{}' has shape {}, but the model config needs [{}, {}]",
                      weights_.source, name, shape_string(t->shape), rows, cols);
  }
  if (!matmul_supports(t->dtype)) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: tensor '{}' is stored as {}, which mxserve cannot multiply yet "
                      "(supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, "
                      "q5_K, q6_K, iq4_nl, iq4_xs, mxfp4, iq3_xxs, iq3_s, iq2_xxs, iq2_xs, "
                      "iq2_s, iq1_s, iq1_m, tq1_0, tq2_0, i8 = W8A8, FP8 E4M3 with block "
                      "scales); "
                      "re-quantize the model to one of those",
                      weights_.source, name, dtype_name(t->dtype));
  }
  Matrix m{t->dtype, t->data, rows, cols};
  if (t->dtype == DType::I8) {
    MX_ASSIGN_OR_RETURN(m.row_scale, row_scales(*t));
  }
  if (t->dtype == DType::F8_E4M3) {
    MX_ASSIGN_OR_RETURN(m.fp8, fp8_scales_of(weights_, *t, fp8_block_));
  }
  return m;
}

Result<std::vector<float>> WeightBinder::float_values(const TensorInfo& t) {
  if (t.dtype == DType::F8_E4M3) return fp8_tensor_values(weights_, t, fp8_block_);
  const int64_t cols = t.shape.back();
  const int64_t rows = t.numel() / cols;
  auto bytes = row_bytes(t.dtype, static_cast<uint64_t>(cols));
  std::vector<float> out(static_cast<size_t>(t.numel()));
  if (!bytes || !can_dequantize(t.dtype)) {
    return make_error(ErrorCode::kUnsupported, "{}: tensor '{}' of type {} cannot be converted",
                      weights_.source, t.name, dtype_name(t.dtype));
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (!dequantize_row(t.dtype, t.data + r * *bytes, &out[r * cols], cols)) {
      return make_error(ErrorCode::kUnsupported, "{}: tensor '{}': cannot dequantize {}",
                        weights_.source, t.name, dtype_name(t.dtype));
    }
  }
  return out;
}

Result<const float*> WeightBinder::row_scales(const TensorInfo& t) {
  const std::string name = t.name + ".scale";
  std::vector<int64_t> want(t.shape.begin(), t.shape.end() - (t.shape.empty() ? 0 : 1));
  const TensorInfo* s = weights_.find(name);
  if (s == nullptr || s->dtype != DType::F32 || s->shape != want) {
    return make_error(
        ErrorCode::kCorruptData,
        "{}: W8A8 tensor '{}' (i8) needs its per-row scales as an f32 tensor '{}' "
        "of shape {}; {}. Re-create the file with `mxserve quantize --type w8a8`",
        weights_.source, t.name, name, shape_string(want),
        s == nullptr ? "it is missing"
                     : fmt::format("found {} {}", dtype_name(s->dtype), shape_string(s->shape)));
  }
  if (t.shape.back() % 32 != 0) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: W8A8 tensor '{}' has rows of {} values; mxserve's int8 kernels need a "
                      "multiple of 32 (quantize this tensor to another type)",
                      weights_.source, t.name, t.shape.back());
  }
  return reinterpret_cast<const float*>(s->data);
}

MatmulArgs matmul_args(const Matrix& w, const float* x, int64_t x_stride, float* y,
                       int64_t y_stride, int64_t n_tokens) {
  MatmulArgs a;
  a.w_type = w.type;
  a.w = w.data;
  a.rows = w.rows;
  a.cols = w.cols;
  a.x = x;
  a.x_stride = x_stride;
  a.y = y;
  a.y_stride = y_stride;
  a.n_tokens = n_tokens;
  a.w_aux = w.aux;
  a.w_scale = w.row_scale;
  a.w_fp8 = w.fp8;
  return a;
}

Matrix Matrix::row_slice(int64_t first, int64_t n) const {
  Matrix m = *this;
  m.data = static_cast<const uint8_t*>(data) +
           static_cast<int64_t>(*row_bytes(type, static_cast<uint64_t>(cols))) * first;
  m.rows = n;
  m.aux = nullptr;
  if (row_scale != nullptr) m.row_scale = row_scale + first;
  m.fp8.row0 += first;
  return m;
}

Result<Vector> WeightBinder::optional_vector(const std::string& name, int64_t size) {
  const TensorInfo* t = weights_.find(name);
  if (t == nullptr) return Vector{};
  if (t->numel() != size || t->shape.size() != 1) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor '{}' has shape {}, but the model config needs [{}]",
                      weights_.source, name, shape_string(t->shape), size);
  }
  if (t->dtype == DType::F32) return Vector{reinterpret_cast<const float*>(t->data), size};
  std::vector<float>& converted = owned_.emplace_back(static_cast<size_t>(size));
  if (!can_dequantize(t->dtype) || !dequantize_row(t->dtype, t->data, converted.data(), size)) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: tensor '{}': 1-D weights of type {} are not "
                      "supported",
                      weights_.source, name, dtype_name(t->dtype));
  }
  return Vector{converted.data(), size};
}

Result<Vector> WeightBinder::vector(const std::string& name, int64_t size) {
  MX_RETURN_IF_ERROR(weights_.get(name));
  return optional_vector(name, size);
}

Matrix WeightBinder::own_matrix(std::vector<float> values, int64_t rows, int64_t cols) {
  const std::vector<float>& kept = owned_.emplace_back(std::move(values));
  return Matrix{DType::F32, kept.data(), rows, cols};
}

Status WeightBinder::bind_common_layer(int64_t layer, LayerWeights& out) {
  MX_RETURN_IF_ERROR(bind_attention(layer, out));
  return bind_dense_ffn(layer, out);
}

Status WeightBinder::bind_attention(int64_t layer, LayerWeights& out, const char* ffn_norm_stem) {
  const ModelConfig& c = config_;
  const std::string p = fmt::format("blk.{}.", layer);
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  MX_ASSIGN_OR_RETURN(out.attn_norm, vector(p + "attn_norm.weight", c.d_model));
  MX_ASSIGN_OR_RETURN(out.wq, matrix(p + "attn_q.weight", q_dim, c.d_model));
  MX_ASSIGN_OR_RETURN(out.wk, matrix(p + "attn_k.weight", kv_dim, c.d_model));
  MX_ASSIGN_OR_RETURN(out.wv, matrix(p + "attn_v.weight", kv_dim, c.d_model));
  MX_ASSIGN_OR_RETURN(out.wo, matrix(p + "attn_output.weight", c.d_model, q_dim));
  MX_ASSIGN_OR_RETURN(out.ffn_norm, vector(p + ffn_norm_stem + ".weight", c.d_model));
  return ok_status();
}

Status WeightBinder::bind_dense_ffn(int64_t layer, LayerWeights& out) {
  const ModelConfig& c = config_;
  const std::string p = fmt::format("blk.{}.", layer);
  MX_ASSIGN_OR_RETURN(out.w_gate, matrix(p + "ffn_gate.weight", c.ffn_hidden, c.d_model));
  MX_ASSIGN_OR_RETURN(out.w_up, matrix(p + "ffn_up.weight", c.ffn_hidden, c.d_model));
  MX_ASSIGN_OR_RETURN(out.w_down, matrix(p + "ffn_down.weight", c.d_model, c.ffn_hidden));
  return ok_status();
}

Status WeightBinder::bind_qkv_bias(int64_t layer, bool required, LayerWeights& out) {
  const ModelConfig& c = config_;
  const std::string p = fmt::format("blk.{}.", layer);
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  auto bind = [&](const char* name, int64_t size) {
    return required ? vector(p + name, size) : optional_vector(p + name, size);
  };
  MX_ASSIGN_OR_RETURN(out.bq, bind("attn_q.bias", q_dim));
  MX_ASSIGN_OR_RETURN(out.bk, bind("attn_k.bias", kv_dim));
  MX_ASSIGN_OR_RETURN(out.bv, bind("attn_v.bias", kv_dim));
  return ok_status();
}

Status WeightBinder::bind_qk_norm(int64_t layer, LayerWeights& out) {
  const ModelConfig& c = config_;
  const std::string p = fmt::format("blk.{}.", layer);
  // Per head: [head_dim] gains; full width (minimax-m2): [n_heads * head_dim], [n_kv * head_dim].
  const int64_t q_width = c.qk_norm_full_width ? c.n_heads * c.head_dim : c.head_dim;
  const int64_t k_width = c.qk_norm_full_width ? c.n_kv_heads * c.head_dim : c.head_dim;
  MX_ASSIGN_OR_RETURN(out.q_norm, vector(p + "attn_q_norm.weight", q_width));
  MX_ASSIGN_OR_RETURN(out.k_norm, vector(p + "attn_k_norm.weight", k_width));
  return ok_status();
}

}  // namespace mx
