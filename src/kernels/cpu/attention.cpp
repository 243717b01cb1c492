// attention(): work split, online softmax over paged blocks, kv split merge; scalar inner loops
// and the reference. SIMD inner loops in attention_simd.inc.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/half.h"

namespace mx {
namespace attention_detail {
namespace {

float load_elem(KvRows rows, int64_t i) {
  switch (rows.dtype) {
    case DType::F16: return fp16_to_fp32(static_cast<const uint16_t*>(rows.data)[i]);
    case DType::I8: return static_cast<float>(static_cast<const int8_t*>(rows.data)[i]);
    default: return static_cast<const float*>(rows.data)[i];
  }
}

float row_scale(KvRows rows, int64_t j) { return rows.dtype == DType::I8 ? rows.scales[j] : 1.0f; }

void scores_scalar(const float* q, KvRows k, int64_t n, int64_t head_dim, float scale,
                   float* scores) {
  for (int64_t j = 0; j < n; ++j) {
    float dot = 0.0f;
    for (int64_t i = 0; i < head_dim; ++i) dot += q[i] * load_elem(k, j * head_dim + i);
    scores[j] = dot * scale * row_scale(k, j);
  }
}

void accumulate_scalar(float* acc, float acc_scale, const float* p, KvRows v, int64_t n,
                       int64_t head_dim) {
  for (int64_t i = 0; i < head_dim; ++i) acc[i] *= acc_scale;
  for (int64_t j = 0; j < n; ++j) {
    const float w = p[j] * row_scale(v, j);
    for (int64_t i = 0; i < head_dim; ++i) acc[i] += w * load_elem(v, j * head_dim + i);
  }
}

float exp_sum_scalar(float* s, int64_t n, float max) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = std::exp(s[j] - max);
    sum += s[j];
  }
  return sum;
}

}  // namespace

const Ops kScalarOps = {scores_scalar, accumulate_scalar, exp_sum_scalar, nullptr, nullptr};

}  // namespace attention_detail

namespace {

constexpr int64_t kQueryChunk = 16;        // query tokens per work item (prefill)
constexpr int64_t kMaxSplits = 16;         // kv ranges per (sequence, kv head) for decode
constexpr int64_t kMaxSplitQueries = 8;    // split kv only when a call has this few queries
constexpr int64_t kSplitKvTokens = 512;    // one split per this many kv tokens
// A query chunk computes all kQueryChunk token rows whether or not they are real, so chunks of
// fewer tokens (decodes batched with others: one token each) go row by row (attend_one).
constexpr int64_t kMinChunkTokens = 6;

int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }

// Rows slot.. of kv head kv_head in pool block `block` of the part at base (K or V).
attention_detail::KvRows rows_at(const PagedKv& kv, const uint8_t* base, int64_t block,
                                 int64_t kv_head, int64_t slot) {
  const uint8_t* part = base + block * kv.block_stride_bytes;
  const int64_t row = kv_head * kv.block_size + slot;
  attention_detail::KvRows rows;
  rows.data = part + row * kv.row_bytes();
  rows.dtype = kv.dtype;
  if (kv.dtype == DType::I8) {
    rows.scales = reinterpret_cast<const float*>(part + kv.scales_offset()) + row;
  }
  return rows;
}

// Prefill chunks (attention_detail::ChunkTile) need head_dim a multiple of 16.
bool chunk_shape(const PagedKv& kv) { return kv.head_dim % 16 == 0; }

// ChunkTile arrays of one thread: qt, ot [head_dim][M]; q_pos, m, l, corr [M]; kf, vf
// [block_size][head_dim]; s [block_size][M], M = kQueryChunk * group.
int64_t chunk_floats(const PagedKv& kv, int64_t group) {
  if (!chunk_shape(kv)) return 0;
  int64_t rows = kQueryChunk * group;
  return 2 * kv.head_dim * rows + 4 * rows + 2 * kv.block_size * kv.head_dim + kv.block_size * rows;
}

int64_t per_thread_floats(const PagedKv& kv, int64_t group) {
  return pad16(kv.block_size) + pad16(kv.head_dim) + pad16(chunk_floats(kv, group));
}

// Floats of one split's partial result: running max, sum, then acc[head_dim].
int64_t partial_floats(const PagedKv& kv) { return pad16(kv.head_dim + 2); }

const attention_detail::Ops& ops_for(CpuPath path) {
  switch (resolve_cpu_path(path)) {
    case CpuPath::kAvx512Vnni:
    case CpuPath::kAvx512: return attention_detail::kAvx512Ops;
    case CpuPath::kAvx2: return attention_detail::kAvx2Ops;
    default: return attention_detail::kScalarOps;
  }
}

struct Plan {
  const PagedKv* kv;
  const AttentionSeq* seqs;
  int64_t n_seqs, n_heads, group;
  float scale;
  bool split;        // kv ranges split and merged
  float* thread_scratch;
  float* partials;   // [total_q][n_heads][kMaxSplits][partial_floats]
  const attention_detail::Ops* ops;
};

int64_t n_splits(const Plan& plan, const AttentionSeq& seq) {
  if (!plan.split) return 1;
  return std::clamp<int64_t>((seq.n_kv + kSplitKvTokens - 1) / kSplitKvTokens, 1, kMaxSplits);
}

int64_t items_of(const Plan& plan, const AttentionSeq& seq) {
  int64_t chunks = (seq.n_q + kQueryChunk - 1) / kQueryChunk;
  return plan.kv->n_kv_heads * chunks * n_splits(plan, seq);
}

// One (query token, head) over kv positions [p0, p1): online softmax into acc; returns (m, l).
void attend_one(const Plan& plan, const AttentionSeq& seq, const float* q, int64_t kv_head,
                int64_t p0, int64_t p1, float* acc, float* scores, float& m, float& l) {
  const PagedKv& kv = *plan.kv;
  m = -std::numeric_limits<float>::infinity();
  l = 0.0f;
  std::fill(acc, acc + kv.head_dim, 0.0f);
  for (int64_t b = p0 / kv.block_size; p0 < p1; ++b) {
    int64_t j0 = p0 - b * kv.block_size;
    int64_t j1 = std::min(p1 - b * kv.block_size, kv.block_size);
    int64_t n = j1 - j0;
    plan.ops->scores(q, rows_at(kv, kv.k_base, seq.block_table[b], kv_head, j0), n, kv.head_dim,
                     plan.scale, scores);
    float block_max = *std::max_element(scores, scores + n);
    float new_m = std::max(m, block_max);
    float sum = plan.ops->exp_sum(scores, n, new_m);
    float correction = std::exp(m - new_m);  // 0 for the first block (m = -inf)
    plan.ops->accumulate(acc, correction, scores,
                         rows_at(kv, kv.v_base, seq.block_table[b], kv_head, j0), n, kv.head_dim);
    l = l * correction + sum;
    m = new_m;
    p0 += n;
  }
}

// One (kv head, chunk of queries) of a sequence, not split, through ops->chunk_block.
void run_chunk(const Plan& plan, const AttentionSeq& seq, int64_t kv_head, int64_t chunk,
               float* tls) {
  const PagedKv& kv = *plan.kv;
  const int64_t hd = kv.head_dim, group = plan.group, rows = kQueryChunk * group;
  attention_detail::ChunkTile a;
  a.rows = rows;
  a.head_dim = hd;
  float* p = tls + pad16(kv.block_size) + pad16(kv.head_dim);
  float* qt = p; p += hd * rows;
  a.ot = p; p += hd * rows;
  float* q_pos = p; p += rows;
  a.m = p; p += rows;
  a.l = p; p += rows;
  a.corr = p; p += rows;
  a.kf = p; p += kv.block_size * hd;
  a.vf = p; p += kv.block_size * hd;
  a.s = p;
  a.qt = qt;
  a.q_pos = q_pos;
  int64_t t0 = chunk * kQueryChunk, nt = std::min(seq.n_q - t0, kQueryChunk);
  int64_t kv_end = 0;
  a.min_pos = std::numeric_limits<float>::max();
  for (int64_t hh = 0; hh < group; ++hh) {
    for (int64_t t = 0; t < kQueryChunk; ++t) {
      int64_t m = hh * kQueryChunk + t;
      if (t < nt) {
        const float* q = seq.q + (t0 + t) * seq.q_stride + (kv_head * group + hh) * hd;
        for (int64_t i = 0; i < hd; ++i) qt[i * rows + m] = q[i] * plan.scale;
        int64_t end = std::min<int64_t>(seq.q_positions[t0 + t] + 1, seq.n_kv);
        kv_end = std::max(kv_end, end);
        // Positions at or past n_kv are masked like future ones.
        q_pos[m] = static_cast<float>(end - 1);
        a.min_pos = std::min(a.min_pos, q_pos[m]);
      } else {
        for (int64_t i = 0; i < hd; ++i) qt[i * rows + m] = 0.0f;
        q_pos[m] = std::numeric_limits<float>::max();
      }
    }
  }
  std::fill(a.ot, a.ot + hd * rows, 0.0f);
  std::fill(a.m, a.m + rows, -std::numeric_limits<float>::infinity());
  std::fill(a.l, a.l + rows, 0.0f);
  for (int64_t b = 0; b * kv.block_size < kv_end; ++b) {
    int64_t n = std::min(kv_end - b * kv.block_size, kv.block_size);
    plan.ops->chunk_block(a, rows_at(kv, kv.k_base, seq.block_table[b], kv_head, 0),
                          rows_at(kv, kv.v_base, seq.block_table[b], kv_head, 0), n,
                          b * kv.block_size);
  }
  for (int64_t hh = 0; hh < group; ++hh) {
    for (int64_t t = 0; t < nt; ++t) {
      int64_t m = hh * kQueryChunk + t;
      float* out = seq.out + (t0 + t) * seq.out_stride + (kv_head * group + hh) * hd;
      float inv = a.l[m] > 0.0f ? 1.0f / a.l[m] : 0.0f;
      for (int64_t i = 0; i < hd; ++i) out[i] = a.ot[i * rows + m] * inv;
    }
  }
}

void run_item(const Plan& plan, int64_t seq_index, int64_t q_offset, int64_t item, float* tls) {
  const AttentionSeq& seq = plan.seqs[seq_index];
  if (!plan.split && plan.ops->chunk_block && chunk_shape(*plan.kv)) {
    int64_t kv_head = item % plan.kv->n_kv_heads;
    int64_t chunk = item / plan.kv->n_kv_heads;
    if (std::min(seq.n_q - chunk * kQueryChunk, kQueryChunk) >= kMinChunkTokens) {
      run_chunk(plan, seq, kv_head, chunk, tls);
      return;
    }
  }
  const PagedKv& kv = *plan.kv;
  int64_t splits = n_splits(plan, seq);
  int64_t split = item % splits;
  int64_t kv_head = (item / splits) % kv.n_kv_heads;
  int64_t chunk = item / splits / kv.n_kv_heads;
  int64_t split_len = (seq.n_kv + splits - 1) / splits;
  float* scores = tls;
  float* acc = tls + pad16(kv.block_size);
  for (int64_t t = chunk * kQueryChunk; t < std::min(seq.n_q, (chunk + 1) * kQueryChunk); ++t) {
    int64_t kv_end = std::min<int64_t>(seq.q_positions[t] + 1, seq.n_kv);
    int64_t p0 = split * split_len, p1 = std::min(kv_end, p0 + split_len);
    for (int64_t h = kv_head * plan.group; h < (kv_head + 1) * plan.group; ++h) {
      const float* q = seq.q + t * seq.q_stride + h * kv.head_dim;
      float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
      if (p0 < p1) {
        attend_one(plan, seq, q, kv_head, p0, p1, acc, scores, m, l);
      } else {
        std::fill(acc, acc + kv.head_dim, 0.0f);
      }
      if (plan.split) {
        float* partial = plan.partials +
            (((q_offset + t) * plan.n_heads + h) * kMaxSplits + split) * partial_floats(kv);
        partial[0] = m;
        partial[1] = l;
        std::memcpy(partial + 2, acc, static_cast<size_t>(kv.head_dim) * sizeof(float));
      } else {
        float* out = seq.out + t * seq.out_stride + h * kv.head_dim;
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int64_t i = 0; i < kv.head_dim; ++i) out[i] = acc[i] * inv;
      }
    }
  }
}

// Combines the splits of one (query, head): rescale each by e^(m_i - M), divide by the total.
void merge_one(const Plan& plan, const float* partials, int64_t splits, float* out) {
  const PagedKv& kv = *plan.kv;
  float max_m = -std::numeric_limits<float>::infinity();
  for (int64_t s = 0; s < splits; ++s) max_m = std::max(max_m, partials[s * partial_floats(kv)]);
  std::fill(out, out + kv.head_dim, 0.0f);
  float total = 0.0f;
  for (int64_t s = 0; s < splits; ++s) {
    const float* p = partials + s * partial_floats(kv);
    if (p[1] == 0.0f) continue;
    float w = std::exp(p[0] - max_m);
    total += p[1] * w;
    for (int64_t i = 0; i < kv.head_dim; ++i) out[i] += p[2 + i] * w;
  }
  float inv = total > 0.0f ? 1.0f / total : 0.0f;
  for (int64_t i = 0; i < kv.head_dim; ++i) out[i] *= inv;
}

Status validate(const PagedKv& kv, const AttentionSeq* seqs, int64_t n_seqs, int64_t n_heads) {
  if (kv.dtype != DType::F16 && kv.dtype != DType::F32 && kv.dtype != DType::I8) {
    return make_error(ErrorCode::kUnsupported, "attention: kv dtype {} (want f16, f32 or i8)",
                      dtype_name(kv.dtype));
  }
  if (kv.n_kv_heads <= 0 || n_heads % kv.n_kv_heads != 0 || kv.head_dim <= 0 ||
      kv.block_size <= 0 || kv.block_stride_bytes < kv.block_part_bytes()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "attention: n_heads {} must be a multiple of n_kv_heads {}, head_dim {} and "
                      "block_size {} positive, block stride {} >= {}",
                      n_heads, kv.n_kv_heads, kv.head_dim, kv.block_size,
                      kv.block_stride_bytes, kv.block_part_bytes());
  }
  for (int64_t s = 0; s < n_seqs; ++s) {
    const AttentionSeq& seq = seqs[s];
    if (seq.q_stride < n_heads * kv.head_dim || seq.out_stride < n_heads * kv.head_dim) {
      return make_error(ErrorCode::kInvalidArgument, "attention: seq {} q/out stride too small",
                        s);
    }
  }
  return ok_status();
}

}  // namespace

size_t attention_scratch_bytes(const PagedKv& kv, const AttentionShape& shape) {
  int64_t group = shape.n_heads / std::max<int64_t>(kv.n_kv_heads, 1);
  int64_t floats = per_thread_floats(kv, group) * std::max(shape.n_threads, 1);
  if (shape.total_q <= kMaxSplitQueries) {
    floats += shape.total_q * shape.n_heads * kMaxSplits * partial_floats(kv);
  }
  return static_cast<size_t>(floats) * sizeof(float);
}

Status attention(const PagedKv& kv, const AttentionSeq* seqs, int64_t n_seqs, int64_t n_heads,
                 float scale, void* scratch, size_t scratch_bytes, ThreadPool& pool,
                 CpuPath path) {
  MX_RETURN_IF_ERROR(validate(kv, seqs, n_seqs, n_heads));
  int64_t total_q = 0;
  for (int64_t s = 0; s < n_seqs; ++s) total_q += seqs[s].n_q;
  AttentionShape shape{n_heads, total_q, pool.size()};
  if (scratch_bytes < attention_scratch_bytes(kv, shape) || !scratch) {
    return make_error(ErrorCode::kInvalidArgument,
                      "attention: scratch of {} bytes is too small, need {}", scratch_bytes,
                      attention_scratch_bytes(kv, shape));
  }
  Plan plan{&kv, seqs, n_seqs, n_heads, n_heads / kv.n_kv_heads, scale,
            total_q <= kMaxSplitQueries, static_cast<float*>(scratch), nullptr, &ops_for(path)};
  plan.partials = plan.thread_scratch + per_thread_floats(kv, plan.group) * pool.size();
  int64_t total_items = 0;
  for (int64_t s = 0; s < n_seqs; ++s) total_items += items_of(plan, seqs[s]);

  std::atomic<int64_t> next{0};
  pool.share([&](int thread, int) {
    float* tls = plan.thread_scratch + per_thread_floats(kv, plan.group) * thread;
    int64_t seq_index = 0, seq_first = 0, q_offset = 0;  // items are claimed in increasing order
    for (int64_t item = next.fetch_add(1); item < total_items; item = next.fetch_add(1)) {
      while (item >= seq_first + items_of(plan, seqs[seq_index])) {
        seq_first += items_of(plan, seqs[seq_index]);
        q_offset += seqs[seq_index].n_q;
        ++seq_index;
      }
      run_item(plan, seq_index, q_offset, item - seq_first, tls);
    }
  });
  if (!plan.split) return ok_status();
  for (int64_t s = 0, q_offset = 0; s < n_seqs; q_offset += seqs[s].n_q, ++s) {
    for (int64_t t = 0; t < seqs[s].n_q; ++t) {
      for (int64_t h = 0; h < n_heads; ++h) {
        const float* partials =
            plan.partials + ((q_offset + t) * n_heads + h) * kMaxSplits * partial_floats(kv);
        merge_one(plan, partials, n_splits(plan, seqs[s]),
                  seqs[s].out + t * seqs[s].out_stride + h * kv.head_dim);
      }
    }
  }
  return ok_status();
}

float kv_quantize_row(const float* x, int64_t n, int8_t* q) {
  float absmax = 0.0f;
  for (int64_t i = 0; i < n; ++i) absmax = std::max(absmax, std::fabs(x[i]));
  const float scale = absmax / 127.0f;
  const float inv = absmax > 0.0f ? 127.0f / absmax : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
  }
  return scale;
}

namespace {

// One row into its slot of a K or V part (part = base + block * stride).
void write_row(const PagedKv& kv, uint8_t* base, int64_t block, int64_t kv_head, int64_t slot,
               const float* src, void (*to_f16)(const float*, uint16_t*, int64_t)) {
  uint8_t* part = base + block * kv.block_stride_bytes;
  const int64_t row = kv_head * kv.block_size + slot;
  uint8_t* dst = part + row * kv.row_bytes();
  switch (kv.dtype) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(kv.row_bytes()));
      return;
    case DType::I8: {
      const float scale = kv_quantize_row(src, kv.head_dim, reinterpret_cast<int8_t*>(dst));
      std::memcpy(part + kv.scales_offset() + row * sizeof(float), &scale, sizeof(float));
      return;
    }
    default: {
      auto* half = reinterpret_cast<uint16_t*>(dst);
      if (to_f16) {
        to_f16(src, half, kv.head_dim);
      } else {
        for (int64_t i = 0; i < kv.head_dim; ++i) half[i] = fp32_to_fp16(src[i]);
      }
    }
  }
}

}  // namespace

void kv_write(const PagedKv& kv, const int32_t* block_table, const int32_t* positions,
              int64_t n_tokens, const float* k, int64_t k_stride, const float* v,
              int64_t v_stride) {
  auto to_f16 = ops_for(CpuPath::kAuto).to_f16;  // same bits on every path
  for (int64_t t = 0; t < n_tokens; ++t) {
    int64_t block = block_table[positions[t] / kv.block_size];
    int64_t slot = positions[t] % kv.block_size;
    for (int64_t h = 0; h < kv.n_kv_heads; ++h) {
      write_row(kv, kv.k_base, block, h, slot, k + t * k_stride + h * kv.head_dim, to_f16);
      write_row(kv, kv.v_base, block, h, slot, v + t * v_stride + h * kv.head_dim, to_f16);
    }
  }
}

void kv_read_row(const PagedKv& kv, const uint8_t* base, int64_t block, int64_t kv_head,
                 int64_t slot, float* out) {
  attention_detail::KvRows rows = rows_at(kv, base, block, kv_head, slot);
  const float scale = attention_detail::row_scale(rows, 0);
  for (int64_t i = 0; i < kv.head_dim; ++i) out[i] = attention_detail::load_elem(rows, i) * scale;
}

void attention_reference(const PagedKv& kv, const AttentionSeq& seq, int64_t n_heads,
                         float scale) {
  int64_t group = n_heads / kv.n_kv_heads;
  // Every row dequantized once: [n_kv][n_kv_heads][head_dim] for K and V.
  const int64_t row = kv.n_kv_heads * kv.head_dim;
  std::vector<float> k(static_cast<size_t>(seq.n_kv * row)), v(k.size());
  for (int64_t p = 0; p < seq.n_kv; ++p) {
    for (int64_t kvh = 0; kvh < kv.n_kv_heads; ++kvh) {
      const int64_t block = seq.block_table[p / kv.block_size], slot = p % kv.block_size;
      kv_read_row(kv, kv.k_base, block, kvh, slot, &k[p * row + kvh * kv.head_dim]);
      kv_read_row(kv, kv.v_base, block, kvh, slot, &v[p * row + kvh * kv.head_dim]);
    }
  }
  auto element = [&](const std::vector<float>& part, int64_t p, int64_t kvh, int64_t i) {
    return part[p * row + kvh * kv.head_dim + i];
  };
  for (int64_t t = 0; t < seq.n_q; ++t) {
    int64_t n = std::min<int64_t>(seq.q_positions[t] + 1, seq.n_kv);
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* q = seq.q + t * seq.q_stride + h * kv.head_dim;
      std::vector<double> weights(static_cast<size_t>(n));
      double max_s = -1e300, total = 0.0;
      for (int64_t p = 0; p < n; ++p) {
        double dot = 0.0;
        for (int64_t i = 0; i < kv.head_dim; ++i) dot += q[i] * double{element(k, p, h / group, i)};
        weights[p] = dot * scale;
        max_s = std::max(max_s, weights[p]);
      }
      for (double& w : weights) total += (w = std::exp(w - max_s));
      float* out = seq.out + t * seq.out_stride + h * kv.head_dim;
      for (int64_t i = 0; i < kv.head_dim; ++i) {
        double sum = 0.0;
        for (int64_t p = 0; p < n; ++p) sum += weights[p] * element(v, p, h / group, i);
        out[i] = n > 0 ? static_cast<float>(sum / total) : 0.0f;
      }
    }
  }
}

}  // namespace mx
