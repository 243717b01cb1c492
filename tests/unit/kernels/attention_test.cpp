// Paged causal GQA attention on every path against attention_reference (1e-5 absolute on O(1)
// outputs; f32 online softmax vs double), and the reference plus kv_write against a dense
// softmax(q K^T * scale) V over the original vectors (exact fp16 rounding applied; int8: the
// rows quantized here by the rule in attention.h, absmax / 127 per row).
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "core/half.h"

namespace mx {
namespace {

const CpuPath kPaths[] = {CpuPath::kScalar, CpuPath::kAvx2, CpuPath::kAvx512};

struct Cache {
  PagedKv kv;
  std::vector<uint8_t> k_pool, v_pool;
  std::vector<float> k, v;  // dense [n_kv, n_kv_heads, head_dim] as written
  std::vector<int32_t> table;
};

// The int8 rule of attention.h, written out here: scale = absmax / 127, x -> round(x / scale)
// * scale (nearest, ties to even).
void int8_quantize_in_place(float* row, int64_t n) {
  float absmax = 0.0f;
  for (int64_t i = 0; i < n; ++i) absmax = std::max(absmax, std::fabs(row[i]));
  if (absmax == 0.0f) return;
  const float inv = 127.0f / absmax;
  for (int64_t i = 0; i < n; ++i) row[i] = std::nearbyint(row[i] * inv) * (absmax / 127.0f);
}

// A cache of n_kv tokens whose blocks sit in the pool in shuffled order.
Cache make_cache(DType dtype, int64_t n_kv_heads, int64_t head_dim, int64_t block_size,
                 int64_t n_kv, uint32_t seed) {
  Cache c;
  c.kv = PagedKv{nullptr, nullptr, 0, block_size, n_kv_heads, head_dim, dtype};
  c.kv.block_stride_bytes = c.kv.block_part_bytes() + 64;  // gaps between blocks
  int64_t n_blocks = (n_kv + block_size - 1) / block_size;
  int64_t pool_blocks = n_blocks + 3;
  c.k_pool.assign(static_cast<size_t>(pool_blocks * c.kv.block_stride_bytes), 0xEE);
  c.v_pool = c.k_pool;
  c.kv.k_base = c.k_pool.data();
  c.kv.v_base = c.v_pool.data();
  std::vector<int32_t> order(static_cast<size_t>(pool_blocks));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  c.table.assign(order.begin(), order.begin() + n_blocks);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int64_t row = n_kv_heads * head_dim;
  c.k.resize(static_cast<size_t>(n_kv * row));
  c.v.resize(c.k.size());
  for (float& x : c.k) x = normal(rng);
  for (float& x : c.v) x = normal(rng);
  std::vector<int32_t> positions(static_cast<size_t>(n_kv));
  std::iota(positions.begin(), positions.end(), 0);
  // Write in two calls (prefill then one more token), like an engine would.
  kv_write(c.kv, c.table.data(), positions.data(), n_kv - 1, c.k.data(), row, c.v.data(), row);
  kv_write(c.kv, c.table.data(), positions.data() + n_kv - 1, 1, c.k.data() + (n_kv - 1) * row,
           row, c.v.data() + (n_kv - 1) * row, row);
  if (dtype == DType::F16) {
    for (float& x : c.k) x = fp16_to_fp32(fp32_to_fp16(x));
    for (float& x : c.v) x = fp16_to_fp32(fp32_to_fp16(x));
  }
  if (dtype == DType::I8) {
    for (size_t r = 0; r < c.k.size(); r += static_cast<size_t>(head_dim)) {
      int8_quantize_in_place(&c.k[r], head_dim);
      int8_quantize_in_place(&c.v[r], head_dim);
    }
  }
  return c;
}

struct Queries {
  std::vector<float> q;
  std::vector<int32_t> positions;
  int64_t stride;
};

Queries make_queries(int64_t n_q, int64_t first_pos, int64_t n_heads, int64_t head_dim,
                     uint32_t seed) {
  Queries out{{}, {}, n_heads * head_dim + 3};
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  out.q.resize(static_cast<size_t>(n_q * out.stride));
  for (float& x : out.q) x = normal(rng);
  for (int64_t t = 0; t < n_q; ++t) out.positions.push_back(static_cast<int32_t>(first_pos + t));
  return out;
}

TEST(Attention, ReferenceMatchesDenseSoftmax) {
  for (DType dtype : {DType::F32, DType::F16, DType::I8}) {
    Cache c = make_cache(dtype, 2, 8, 3, 10, 1);
    Queries qs = make_queries(4, 6, 4, 8, 2);
    std::vector<float> out(qs.q.size());
    AttentionSeq seq{c.table.data(), 10, 4, qs.positions.data(), qs.q.data(), qs.stride,
                     out.data(), qs.stride};
    attention_reference(c.kv, seq, 4, 0.3f);
    for (int64_t t = 0; t < 4; ++t) {
      for (int64_t h = 0; h < 4; ++h) {
        int64_t kvh = h / 2, n = qs.positions[t] + 1;
        std::vector<double> s(static_cast<size_t>(n));
        for (int64_t p = 0; p < n; ++p) {
          for (int64_t i = 0; i < 8; ++i) {
            s[p] += qs.q[t * qs.stride + h * 8 + i] * double{c.k[(p * 2 + kvh) * 8 + i]} * 0.3;
          }
        }
        double mx = *std::max_element(s.begin(), s.end()), total = 0;
        for (double& x : s) total += (x = std::exp(x - mx));
        for (int64_t i = 0; i < 8; ++i) {
          double want = 0;
          for (int64_t p = 0; p < n; ++p) want += s[p] / total * c.v[(p * 2 + kvh) * 8 + i];
          ASSERT_NEAR(out[t * qs.stride + h * 8 + i], want, 1e-6) << dtype_name(dtype);
        }
      }
    }
  }
}

void expect_matches_reference(const Cache& c, std::vector<AttentionSeq> seqs, int64_t n_heads,
                              ThreadPool& pool) {
  int64_t total_q = 0;
  for (const auto& s : seqs) total_q += s.n_q;
  std::vector<std::vector<float>> want;
  for (const auto& s : seqs) {
    want.emplace_back(static_cast<size_t>(s.n_q * s.out_stride));
    AttentionSeq ref = s;
    ref.out = want.back().data();
    attention_reference(c.kv, ref, n_heads, 0.125f);
  }
  std::vector<uint8_t> scratch(
      attention_scratch_bytes(c.kv, AttentionShape{n_heads, total_q, pool.size()}));
  for (CpuPath path : kPaths) {
    for (auto& s : seqs) std::fill(s.out, s.out + s.n_q * s.out_stride, 0.0f);
    Status st = attention(c.kv, seqs.data(), static_cast<int64_t>(seqs.size()), n_heads, 0.125f,
                          scratch.data(), scratch.size(), pool, path);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (size_t i = 0; i < seqs.size(); ++i) {
      for (int64_t t = 0; t < seqs[i].n_q; ++t) {
        for (int64_t j = 0; j < n_heads * c.kv.head_dim; ++j) {
          int64_t at = t * seqs[i].out_stride + j;
          ASSERT_NEAR(seqs[i].out[at], want[i][at], 1e-5)
              << cpu_path_name(path) << " seq " << i << " t=" << t << " j=" << j;
        }
      }
    }
  }
}

TEST(Attention, PrefillChunkedAndDecodeAllPaths) {
  ThreadPool pool(2, false);
  for (DType dtype : {DType::F16, DType::F32, DType::I8}) {
    for (auto [head_dim, block_size] : {std::pair<int64_t, int64_t>{64, 16}, {40, 5}}) {
      int64_t n_kv = 37, n_heads = 6, n_kv_heads = 2;
      Cache c = make_cache(dtype, n_kv_heads, head_dim, block_size, n_kv, 7);
      Queries prefill = make_queries(n_kv, 0, n_heads, head_dim, 8);   // whole prompt
      Queries chunk = make_queries(5, n_kv - 5, n_heads, head_dim, 9); // chunked prefill tail
      Queries decode = make_queries(1, n_kv - 1, n_heads, head_dim, 10);
      std::vector<float> o1(prefill.q.size()), o2(chunk.q.size()), o3(decode.q.size());
      AttentionSeq s1{c.table.data(), n_kv, n_kv, prefill.positions.data(), prefill.q.data(),
                      prefill.stride, o1.data(), prefill.stride};
      AttentionSeq s2{c.table.data(), n_kv, 5, chunk.positions.data(), chunk.q.data(),
                      chunk.stride, o2.data(), chunk.stride};
      AttentionSeq s3{c.table.data(), n_kv, 1, decode.positions.data(), decode.q.data(),
                      decode.stride, o3.data(), decode.stride};
      expect_matches_reference(c, {s1}, n_heads, pool);
      expect_matches_reference(c, {s2, s3}, n_heads, pool);  // a batch of two sequences
      expect_matches_reference(c, {s3}, n_heads, pool);
    }
  }
}

// Prefill chunks (queries in lanes): many blocks, a last partial block, queries that start
// mid-cache (chunked prefill with more than the split threshold of queries), a batch of both.
TEST(Attention, PrefillChunksOverManyBlocks) {
  ThreadPool pool(2, false);
  for (DType dtype : {DType::F16, DType::I8}) {
    int64_t n_kv = 100, n_heads = 4, n_kv_heads = 2, head_dim = 128;
    Cache c = make_cache(dtype, n_kv_heads, head_dim, 32, n_kv, 11);
    Queries whole = make_queries(n_kv, 0, n_heads, head_dim, 12);
    Queries tail = make_queries(30, n_kv - 30, n_heads, head_dim, 13);
    std::vector<float> o1(whole.q.size()), o2(tail.q.size());
    AttentionSeq s1{c.table.data(), n_kv, n_kv, whole.positions.data(), whole.q.data(),
                    whole.stride, o1.data(), whole.stride};
    AttentionSeq s2{c.table.data(), n_kv, 30, tail.positions.data(), tail.q.data(), tail.stride,
                    o2.data(), tail.stride};
    expect_matches_reference(c, {s1}, n_heads, pool);
    expect_matches_reference(c, {s2}, n_heads, pool);
    expect_matches_reference(c, {s2, s1}, n_heads, pool);
  }
}

// A step of batched decodes: more single-token sequences than the split threshold, so each is
// one work item per kv head, computed row by row (no 16-token query chunk around one token).
TEST(Attention, BatchOfDecodesWithoutSplit) {
  ThreadPool pool(2, false);
  int64_t n_kv = 70, n_heads = 4, n_kv_heads = 2, head_dim = 128;
  Cache c = make_cache(DType::F16, n_kv_heads, head_dim, 32, n_kv, 21);
  std::vector<Queries> queries;
  std::vector<std::vector<float>> outs;
  std::vector<AttentionSeq> seqs;
  for (int i = 0; i < 12; ++i) {
    int64_t len = n_kv - 5 * i;  // sequences of different lengths over the same blocks
    queries.push_back(make_queries(1, len - 1, n_heads, head_dim, 30 + i));
    outs.emplace_back(queries.back().q.size());
  }
  for (int i = 0; i < 12; ++i) {
    seqs.push_back({c.table.data(), n_kv - 5 * i, 1, queries[i].positions.data(),
                    queries[i].q.data(), queries[i].stride, outs[i].data(), queries[i].stride});
  }
  expect_matches_reference(c, seqs, n_heads, pool);
}

// kv_write's SIMD f16 conversion gives fp32_to_fp16's bits: ties, subnormals, overflow, NaN.
TEST(Attention, KvWriteF16MatchesScalarConversion) {
  const int64_t head_dim = 40;  // a tail on both vector widths
  std::vector<float> src(head_dim);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (float& v : src) v = normal(rng);
  src[0] = 1.0f + 1.0f / 2048.0f;  // tie, rounds to even
  src[1] = 3e-6f;                  // subnormal
  src[2] = -70000.0f;              // overflow to -inf
  src[3] = std::numeric_limits<float>::quiet_NaN();
  src[17] = 65519.0f;
  std::vector<uint16_t> k(head_dim), v(head_dim);
  PagedKv kv{reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()),
             head_dim * 2, 1, 1, head_dim, DType::F16};
  int32_t table[1] = {0}, pos[1] = {0};
  kv_write(kv, table, pos, 1, src.data(), head_dim, src.data(), head_dim);
  for (int64_t i = 0; i < head_dim; ++i) {
    EXPECT_EQ(k[i], fp32_to_fp16(src[i])) << i;
    EXPECT_EQ(v[i], fp32_to_fp16(src[i])) << i;
  }
}

TEST(Attention, LongContextDecodeSplitsKv) {
  ThreadPool pool(2, false);
  for (DType dtype : {DType::F16, DType::I8}) {
    int64_t n_kv = 3000, n_heads = 16, n_kv_heads = 8, head_dim = 128;
    Cache c = make_cache(dtype, n_kv_heads, head_dim, 32, n_kv, 3);
    Queries d1 = make_queries(1, n_kv - 1, n_heads, head_dim, 4);
    Queries d2 = make_queries(1, 999, n_heads, head_dim, 5);  // a shorter sequence in the batch
    std::vector<float> o1(d1.q.size()), o2(d2.q.size());
    AttentionSeq s1{c.table.data(), n_kv, 1, d1.positions.data(), d1.q.data(), d1.stride,
                    o1.data(), d1.stride};
    AttentionSeq s2{c.table.data(), 1000, 1, d2.positions.data(), d2.q.data(), d2.stride,
                    o2.data(), d2.stride};
    expect_matches_reference(c, {s1, s2}, n_heads, pool);
  }
}

// The int8 layout of one part: rows [n_kv_heads][block_size][head_dim] of int8, then one f32
// scale per row at scales_offset(); each row within half a step of what was written, its
// largest magnitude at +-127; an all-zero row has scale 0.
TEST(Attention, KvWriteInt8Layout) {
  const int64_t n_kv_heads = 2, block_size = 3, head_dim = 10;  // 60 data bytes: scales at 60
  PagedKv kv{nullptr, nullptr, 0, block_size, n_kv_heads, head_dim, DType::I8};
  ASSERT_EQ(kv.scales_offset(), 60);
  ASSERT_EQ(kv.block_part_bytes(), 60 + 6 * 4);
  kv.block_stride_bytes = kv.block_part_bytes();
  std::vector<uint8_t> k_pool(static_cast<size_t>(2 * kv.block_stride_bytes), 0xEE);
  std::vector<uint8_t> v_pool = k_pool;
  kv.k_base = k_pool.data();
  kv.v_base = v_pool.data();
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const int64_t row = n_kv_heads * head_dim;
  std::vector<float> k(static_cast<size_t>(4 * row)), v(k.size());
  for (float& x : k) x = normal(rng);
  for (float& x : v) x = normal(rng);
  std::fill(v.begin() + row, v.begin() + row + head_dim, 0.0f);  // token 1, head 0: zeros
  const int32_t table[] = {1, 0}, positions[] = {0, 1, 2, 3};
  kv_write(kv, table, positions, 4, k.data(), row, v.data(), row);
  for (int64_t p = 0; p < 4; ++p) {
    for (int64_t h = 0; h < n_kv_heads; ++h) {
      for (const auto& [pool, src] : {std::pair{&k_pool, &k}, std::pair{&v_pool, &v}}) {
        const uint8_t* part = pool->data() + table[p / block_size] * kv.block_stride_bytes;
        const int64_t r = h * block_size + p % block_size;
        const auto* q = reinterpret_cast<const int8_t*>(part + r * head_dim);
        float scale;
        std::memcpy(&scale, part + 60 + r * 4, 4);
        const float* x = src->data() + p * row + h * head_dim;
        float absmax = 0.0f;
        int max_q = 0;
        for (int64_t i = 0; i < head_dim; ++i) absmax = std::max(absmax, std::fabs(x[i]));
        ASSERT_FLOAT_EQ(scale, absmax / 127.0f) << p << " " << h;
        for (int64_t i = 0; i < head_dim; ++i) {
          EXPECT_LE(std::fabs(q[i] * scale - x[i]), 0.5f * scale * 1.0001f) << p << " " << h;
          max_q = std::max(max_q, std::abs(int{q[i]}));
        }
        EXPECT_EQ(max_q, absmax > 0.0f ? 127 : 0);
        std::vector<float> read(static_cast<size_t>(head_dim));
        kv_read_row(kv, pool->data() == k_pool.data() ? kv.k_base : kv.v_base,
                    table[p / block_size], h, p % block_size, read.data());
        for (int64_t i = 0; i < head_dim; ++i) EXPECT_EQ(read[i], q[i] * scale);
      }
    }
  }
}

TEST(Attention, RejectsBadShapes) {
  ThreadPool pool(1, false);
  Cache c = make_cache(DType::F16, 2, 8, 4, 4, 1);
  std::vector<uint8_t> scratch(1 << 16);
  EXPECT_FALSE(attention(c.kv, nullptr, 0, 3, 1.0f, scratch.data(), scratch.size(), pool).ok());
  EXPECT_FALSE(attention(c.kv, nullptr, 0, 4, 1.0f, scratch.data(), 0, pool).ok());
}

}  // namespace
}  // namespace mx
