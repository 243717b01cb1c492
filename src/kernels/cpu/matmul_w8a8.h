// Internal to the W8A8 matmul (matmul_w8a8*.cpp): int8 weights with one float scale per row
// (DType::I8 + MatmulArgs::w_scale) times activations quantized per token to int8 with one
// scale per token, int32 accumulation:
//   y[t, r] = (sum_c w[r, c] * q[t, c]) * w_scale[r] * d[t]
// Not part of the public API (matmul.h is).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/matmul.h"

namespace mx::w8a8 {

// Columns must be a multiple of this (the AVX2 kernels take 32 int8 per step; the AVX-512
// kernels mask the last half vector) and at most kMaxCols: the VNNI kernels sum (q + 128) * w
// in int32, |255 * 127 * cols| < 2^31.
constexpr int64_t kColMultiple = 32;
constexpr int64_t kMaxCols = 65536;

inline int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// One token's quantized activations in scratch, a 64-byte aligned record:
//   q  int8 [cols rounded up to 64], zero padded
//   d  float, the token's scale (max|x| / 127)
inline int64_t act_cols_pad(int64_t cols) { return round_up(cols, 64); }
inline int64_t act_token_bytes(int64_t cols) { return round_up(act_cols_pad(cols) + 4, 64); }

// The VNNI GEMM's interleaved activations, one block per group of 16 tokens after the records:
//   a  uint8 [cols / 4][16][4]  token t's q + 128 for columns 4j..4j+3 at (j * 16 + t) * 4
//   d  float [16]               token scales (0 for tokens past the end)
constexpr int64_t kGroupTokens = 16;
inline int64_t lanes_group_bytes(int64_t cols) { return round_up(16 * cols + 64, 64); }

struct Job {
  const int8_t* w = nullptr;        // [rows, cols]
  const float* w_scale = nullptr;   // [rows]
  const int32_t* w_bias = nullptr;  // VNNI aux [rows]: -128 * sum_c w[r, c], or nullptr
  int64_t cols = 0;
  const uint8_t* acts = nullptr;  // records, act_token_bytes(cols) apart
  int64_t token_bytes = 0;
  const uint8_t* lanes = nullptr;  // interleaved groups (GEMM), lanes_group_bytes(cols) apart
  int64_t group_bytes = 0;
  float* y = nullptr;
  int64_t y_stride = 0;

  const int8_t* token_q(int64_t t) const {
    return reinterpret_cast<const int8_t*>(acts + t * token_bytes);
  }
  float token_d(int64_t t) const {
    return *reinterpret_cast<const float*>(acts + t * token_bytes + act_cols_pad(cols));
  }
};

// Writes y[t, r] for r in [r0, r1), t in [t0, t1).
using Kernel = void (*)(const Job& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
// One token's record from x [cols].
using Quantizer = void (*)(const float* x, int64_t cols, uint8_t* record);
// Group g's interleaved block from the records of tokens [16 g, min(16 g + 16, n_tokens)).
using Interleaver = void (*)(const Job& job, int64_t group, int64_t n_tokens);

struct Kernels {
  Kernel gemv = nullptr;  // any token count; streams each row once per token
  Kernel gemm = nullptr;  // tokens in lanes; nullptr: gemv for every count
  Interleaver interleave = nullptr;
  Quantizer quantize = nullptr;
  bool wants_bias = false;  // gemv/gemm use Job::w_bias when present (VNNI)
};

// The GEMM takes over from this many tokens (a batch of decodes already fills most lanes).
constexpr int64_t kGemmMinTokens = 4;

Kernels scalar_kernels();
Kernels avx2_kernels();  // also the AVX-512 (no VNNI) path: vpmaddubsw needs no wider regs
Kernels avx512_vnni_kernels();

// The scalar quantizer every path matches bit for bit.
void quantize_token_scalar(const float* x, int64_t cols, uint8_t* record);

// matmul() and friends for DType::I8 (matmul_w8a8.cpp).
size_t scratch_bytes(int64_t n_tokens, int64_t cols);
size_t aux_bytes(int64_t rows, int64_t cols, CpuPath path);
Status prepare_aux(const void* w, int64_t rows, int64_t cols, void* aux, size_t aux_bytes,
                   ThreadPool& pool, CpuPath path);
Status run(const MatmulArgs& args, void* scratch, size_t scratch_bytes, ThreadPool& pool,
           CpuPath path);

}  // namespace mx::w8a8
