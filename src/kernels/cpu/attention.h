// Causal multi-head attention with grouped-query heads over a paged KV cache.
//
// KV layout (one layer): the cache is a pool of blocks; block b holds block_size tokens,
//   K at k_base + b * block_stride_bytes, V at v_base + b * block_stride_bytes,
//   each laid out [n_kv_heads][block_size][head_dim] in F16 or F32 — or I8: the int8 rows
//   [n_kv_heads][block_size][head_dim], then (from scales_offset(), 4-byte aligned) one f32
//   scale per row [n_kv_heads][block_size]; element = int8 * scale (symmetric, scale =
//   absmax / 127 of the row as written). Reads dequantize on the fly in the inner loops.
// A sequence names its blocks in order with a block table: kv position p lives in block
// block_table[p / block_size], slot p % block_size.
// For each query token t of a sequence (at position q_positions[t]) and head h (kv head
// h / (n_heads / n_kv_heads)):
//   out[t, h] = sum_p softmax_p(scale * q[t, h] . K[p, kvh]) V[p, kvh] over p <= q_positions[t]
//   and p < n_kv.
// Computed with an online softmax over blocks (f32 accumulators), split over (sequence, kv head,
// query chunk) and, for decode over long contexts, over kv ranges merged afterwards. Scratch comes
// from the caller (attention_scratch_bytes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"

namespace mx {

struct PagedKv {
  uint8_t* k_base = nullptr;
  uint8_t* v_base = nullptr;
  int64_t block_stride_bytes = 0;  // distance between consecutive blocks of a pool
  int64_t block_size = 0;          // tokens per block
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  DType dtype = DType::F16;        // F16, F32 or I8 (with per-row scales)

  int64_t elem_bytes() const { return dtype == DType::F32 ? 4 : dtype == DType::F16 ? 2 : 1; }
  int64_t row_bytes() const { return head_dim * elem_bytes(); }
  // I8: where a part's row scales start, after its int8 rows (rounded up to 4 bytes).
  int64_t scales_offset() const { return (n_kv_heads * block_size * row_bytes() + 3) / 4 * 4; }
  // Bytes one block's K (or V) part needs: n_kv_heads * block_size rows (I8: and their scales).
  int64_t block_part_bytes() const {
    if (dtype != DType::I8) return n_kv_heads * block_size * row_bytes();
    return scales_offset() + n_kv_heads * block_size * static_cast<int64_t>(sizeof(float));
  }
};

// Reads one row (head_dim elements) of a K or V part as f32: base is kv.k_base or kv.v_base,
// the row is (kv_head, slot) of pool block `block`.
void kv_read_row(const PagedKv& kv, const uint8_t* base, int64_t block, int64_t kv_head,
                 int64_t slot, float* out);

struct AttentionSeq {
  const int32_t* block_table = nullptr;  // [ceil(n_kv / block_size)] block indices
  int64_t n_kv = 0;                      // valid kv tokens, positions 0 .. n_kv - 1
  int64_t n_q = 0;                       // query tokens
  const int32_t* q_positions = nullptr;  // [n_q]; each < n_kv (its own kv must be written)
  const float* q = nullptr;              // [n_q, n_heads, head_dim], token stride q_stride
  int64_t q_stride = 0;                  // floats, >= n_heads * head_dim
  float* out = nullptr;                  // [n_q, n_heads, head_dim], token stride out_stride
  int64_t out_stride = 0;
};

struct AttentionShape {
  int64_t n_heads = 0;          // multiple of kv.n_kv_heads
  int64_t total_q = 0;          // sum of n_q over the sequences of one call (upper bound)
  int n_threads = 1;            // pool size
};

size_t attention_scratch_bytes(const PagedKv& kv, const AttentionShape& shape);

// Runs attention for n_seqs sequences. Errors for inconsistent shapes or too little scratch.
Status attention(const PagedKv& kv, const AttentionSeq* seqs, int64_t n_seqs, int64_t n_heads,
                 float scale, void* scratch, size_t scratch_bytes, ThreadPool& pool,
                 CpuPath path = CpuPath::kAuto);

// Writes K and V rows of n_tokens tokens at positions[t] (f32 in, converted to kv.dtype; I8:
// each row quantized with its own scale, kv_quantize_row):
// k, v [n_tokens, n_kv_heads, head_dim] with token strides in floats. The block table must
// cover every position.
void kv_write(const PagedKv& kv, const int32_t* block_table, const int32_t* positions,
              int64_t n_tokens, const float* k, int64_t k_stride, const float* v,
              int64_t v_stride);

// One row to int8: scale = max|x| / 127 (0 for an all-zero row), q[i] = round(x[i] / scale).
// Returns the scale.
float kv_quantize_row(const float* x, int64_t n, int8_t* q);

// Plain reference: materializes the scores per (query, head), softmax with std::exp in double,
// weighted sum. For tests; allocates.
void attention_reference(const PagedKv& kv, const AttentionSeq& seq, int64_t n_heads, float scale);

namespace attention_detail {
// Prefill with the query rows of one (sequence, kv head, chunk of <= 16 tokens) in the vector
// lanes: row m = hh * 16 + t for head hh of the group and token t of the chunk, rows padded to
// M = 16 * group. Per kv block, S[j][m] = K[j] . qt[.][m] takes k as broadcast scalars, so the
// online softmax is lane-wise (no horizontal sums) and K/V are converted once for all M rows.
struct ChunkTile {
  int64_t rows = 0;      // M, a multiple of 16
  int64_t head_dim = 0;  // multiple of 16
  const float* qt;       // [head_dim][M] q * scale
  const float* q_pos;    // [M] position of each row (padding rows: a huge position)
  float min_pos;         // smallest position of a real row (no mask below it)
  float* ot;             // [head_dim][M] unnormalized output
  float* m;              // [M] running max, -inf at start
  float* l;              // [M] running sum, 0 at start
  float* kf;             // [block rows][head_dim] work: K converted
  float* vf;             // [block rows][head_dim] work: V converted
  float* s;              // [block rows][M] work: scores, then probabilities
  float* corr;           // [M] work
};

// n consecutive kv rows of head_dim elements each: data in `dtype`; I8 rows times scales[j].
struct KvRows {
  const void* data = nullptr;
  const float* scales = nullptr;  // [n], I8 only
  DType dtype = DType::F16;
};

// Per-path inner loops over one block of n kv rows.
struct Ops {
  // scores[j] = scale * q . k_row(j)
  void (*scores)(const float* q, KvRows k, int64_t n, int64_t head_dim, float scale,
                 float* scores);
  // acc = acc * acc_scale + sum_j p[j] * v_row(j)
  void (*accumulate)(float* acc, float acc_scale, const float* p, KvRows v, int64_t n,
                     int64_t head_dim);
  // p[j] = exp(s[j] - max) in place; returns the sum
  float (*exp_sum)(float* s, int64_t n, float max);
  // One block of n kv rows at positions pos0.. into the chunk's state; nullptr: not available.
  void (*chunk_block)(const ChunkTile& tile, KvRows k, KvRows v, int64_t n, int64_t pos0);
  // dst[i] = fp32_to_fp16(src[i]) (kv_write); nullptr: the scalar loop.
  void (*to_f16)(const float* src, uint16_t* dst, int64_t n);
};
extern const Ops kScalarOps;
extern const Ops kAvx2Ops;
extern const Ops kAvx512Ops;
}  // namespace attention_detail

}  // namespace mx
