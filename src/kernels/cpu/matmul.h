// Matrix multiplication of a weight matrix stored in GGUF form with f32 activations:
//   y[t, r] = sum_c W[r, c] * x[t, c]
// W is [rows, cols] row-major; each row is row_bytes(w_type, cols) bytes of packed blocks exactly
// as a GGUF file stores them (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K), I8 with one float
// scale per row (W8A8: activations quantized per token, see w_scale), or F8_E4M3 codes with
// block scales (DeepSeek-V3 FP8, see w_fp8). Weights are never
// expanded to f32: quantized types run integer dot products against activations quantized once
// per call to int8 (see quantize_activations_row), the float types convert on the fly.
//
// n_tokens == 1 (decode) streams W once, rows split across the pool in chunks. Larger n_tokens
// (prefill, up to a few thousand) reuse each weight block over a tile of tokens held in
// registers. Kernels allocate nothing: the caller passes matmul_scratch_bytes() bytes of scratch
// (64-byte aligned) that hold the quantized activations. x and y may have row strides wider than
// cols / rows so callers can read and write slices of bigger buffers; y must not alias x or W.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/cpu/fp8.h"
#include "kernels/cpu/simd.h"

namespace mx {

struct MatmulArgs {
  DType w_type = DType::F32;
  const void* w = nullptr;  // [rows] rows of row_bytes(w_type, cols) bytes, back to back
  int64_t rows = 0;
  int64_t cols = 0;         // multiple of the block size (32 for Q8_0..Q5_1, 256 for K types)
  const float* x = nullptr; // [n_tokens, cols], row i at x + i * x_stride
  int64_t x_stride = 0;     // floats, >= cols
  float* y = nullptr;       // [n_tokens, rows], row i at y + i * y_stride
  int64_t y_stride = 0;     // floats, >= rows
  int64_t n_tokens = 0;
  // Optional, from matmul_prepare_aux() on this w: lets the multi-token kernels read the
  // weights in place instead of unpacking them on every call. nullptr: unpack per call.
  const void* w_aux = nullptr;
  // I8 weights (W8A8) only, required: [rows] scales, W[r, c] = int8[r, c] * w_scale[r]. Each
  // token's activations are then quantized to int8 with one scale for the whole row, the
  // products summed in int32: y[t, r] = (sum_c w[r, c] q[t, c]) * w_scale[r] * d[t].
  // cols must be a multiple of 32 and at most 65536.
  const float* w_scale = nullptr;
  // F8_E4M3 weights only, required: their block scales, W[r, c] = value(code) *
  // scale_inv[block of (r, c)] (fp8.h). Any cols; f32 activations are not quantized, and the
  // result equals the f32 product with dequantize_fp8_e4m3_blocks(W) up to summation order.
  Fp8Scales w_fp8{};
};

// Weight types matmul() handles.
bool matmul_supports(DType w_type);

// Scratch bytes matmul() needs for these shapes (0 for the float types). Depends only on the
// type, n_tokens and cols, so callers can size one buffer for their largest call.
size_t matmul_scratch_bytes(DType w_type, int64_t n_tokens, int64_t cols);

// y = x W^T. Errors (kInvalidArgument / kUnsupported) for bad shapes, strides, types, a null
// pointer or too little scratch; nothing is written then. `path` forces an instruction-set path
// (tests, benchmarks); kAuto picks the best this CPU has.
Status matmul(const MatmulArgs& args, void* scratch, size_t scratch_bytes, ThreadPool& pool,
              CpuPath path = CpuPath::kAuto);

// Several independent products y_i = x_i W_i^T in one parallel region (two when many tokens
// need quantizing), for many small matrices (the experts of a MoE layer) where a region per
// product would cost more in synchronization than the work (decode: 3 x 8 experts of ~0.5 MB).
// Rows of all products are claimed from one counter, so threads stay busy to the end. Calls with
// the same activations (x, x_stride, n_tokens, w_type, cols) quantize them once.
// Same conditions per call as matmul(); errors before anything is written. Calls with
// n_tokens == 0 or rows == 0 are skipped.
size_t matmul_batch_scratch_bytes(std::span<const MatmulArgs> calls);
Status matmul_batch(std::span<const MatmulArgs> calls, void* scratch, size_t scratch_bytes,
                    ThreadPool& pool, CpuPath path = CpuPath::kAuto);

// Per-weight data computed once at load for the multi-token (batched decode, prefill) kernels:
// for Q8_0 on the AVX-512 VNNI path, each 32-column group's weight sum (as the bias of the
// unsigned-activation dot product) and its scale as float, 8 bytes per group (+24% of the
// weight). Without it those kernels derive the same values per call, which at 16 tokens costs
// as much as the products themselves. For I8 on the AVX-512 VNNI path: each row's -128 * sum
// of its weights (int32 per row), which takes out the +128 offset of the unsigned activations.
// 0 bytes: nothing to prepare for this type on this path.
size_t matmul_aux_bytes(DType w_type, int64_t rows, int64_t cols, CpuPath path = CpuPath::kAuto);
// Fills aux [matmul_aux_bytes()] from w [rows] rows of row_bytes(w_type, cols) bytes.
Status matmul_prepare_aux(DType w_type, const void* w, int64_t rows, int64_t cols, void* aux,
                          size_t aux_bytes, ThreadPool& pool, CpuPath path = CpuPath::kAuto);

// How matmul() quantizes activations for a weight type, exposed so references and tests can
// reproduce it exactly. Blocks of activation_block_elems(w_type) values (32 for Q8_0..Q5_1, 256
// for the K types, 0 for float types that are not quantized) get one scale
// d = max|x| / 127 and q = round_to_nearest_even(x * 127 / max|x|), q in [-127, 127]
// (d = 0 and q = 0 for an all-zero block). x [cols] -> q [cols], d [cols / block].
// I8 (W8A8) quantizes the whole row as one block: activation_block_elems returns 0 for it (the
// block is the row, not a fixed size) and quantize_activations_row writes d[0] only.
int activation_block_elems(DType w_type);
void quantize_activations_row(DType w_type, const float* x, int64_t cols, int8_t* q, float* d);

}  // namespace mx
