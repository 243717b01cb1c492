// W8A8 matmul (DType::I8 weights with per-row scales): validation, scratch layout, path
// dispatch, the split of work over the pool, and the scalar reference every SIMD path is tested
// against.
#include "kernels/cpu/matmul_w8a8.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

namespace mx::w8a8 {

void quantize_token_scalar(const float* x, int64_t cols, uint8_t* record) {
  float amax = 0.0f;
  for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(x[c]));
  // Multiply by 127 / amax and round half to even: the SIMD quantizers do the same operations.
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  auto* q = reinterpret_cast<int8_t*>(record);
  for (int64_t c = 0; c < cols; ++c) q[c] = static_cast<int8_t>(std::nearbyint(x[c] * inv));
  std::memset(q + cols, 0, static_cast<size_t>(act_cols_pad(cols) - cols));
  const float d = amax / 127.0f;
  std::memcpy(record + act_cols_pad(cols), &d, sizeof d);
}

namespace {

// The reference: exact int32 dot product, then the two scales.
void gemv_scalar(const Job& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* q = job.token_q(t);
    const float d = job.token_d(t);
    for (int64_t r = r0; r < r1; ++r) {
      const int8_t* w = job.w + r * job.cols;
      int32_t acc = 0;
      for (int64_t c = 0; c < job.cols; ++c) acc += static_cast<int32_t>(w[c]) * q[c];
      job.y[t * job.y_stride + r] = static_cast<float>(acc) * (job.w_scale[r] * d);
    }
  }
}

Kernels kernels_for(CpuPath path) {
  switch (resolve_cpu_path(path)) {
    case CpuPath::kAvx512Vnni:
      return avx512_vnni_kernels();
    case CpuPath::kAvx512:
    case CpuPath::kAvx2:
      return avx2_kernels();
    default:
      return scalar_kernels();
  }
}

Status validate(const MatmulArgs& a, void* scratch, size_t scratch_bytes) {
  if (a.rows < 0 || a.cols <= 0 || a.n_tokens < 0) {
    return make_error(ErrorCode::kInvalidArgument, "matmul: bad shape rows={} cols={} tokens={}",
                      a.rows, a.cols, a.n_tokens);
  }
  if (a.cols % kColMultiple != 0 || a.cols > kMaxCols) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: W8A8 (i8) weights need cols to be a multiple of {} and at most {}, "
                      "got {}",
                      kColMultiple, kMaxCols, a.cols);
  }
  if (a.x_stride < a.cols || a.y_stride < a.rows) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: x_stride={} must be >= cols={} and y_stride={} >= rows={}",
                      a.x_stride, a.cols, a.y_stride, a.rows);
  }
  if (a.rows > 0 && a.n_tokens > 0 && (!a.w || !a.x || !a.y || !a.w_scale)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: null w, x, y or w_scale (i8 weights need their row scales)");
  }
  size_t need = w8a8::scratch_bytes(a.n_tokens, a.cols);
  if (scratch_bytes < need || (need > 0 && !scratch)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: scratch of {} bytes is too small, need {} (matmul_scratch_bytes)",
                      scratch_bytes, need);
  }
  return ok_status();
}

// Fills the records (and, for the GEMM, the interleaved groups) for all tokens.
void quantize_all(const MatmulArgs& args, const Kernels& k, bool gemm, Job& job, ThreadPool& pool) {
  auto* records = const_cast<uint8_t*>(job.acts);
  const int64_t n_groups = (args.n_tokens + kGroupTokens - 1) / kGroupTokens;
  auto groups = [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      const int64_t t_end = std::min(args.n_tokens, (g + 1) * kGroupTokens);
      for (int64_t t = g * kGroupTokens; t < t_end; ++t) {
        k.quantize(args.x + t * args.x_stride, args.cols, records + t * job.token_bytes);
      }
      if (gemm) k.interleave(job, g, args.n_tokens);
    }
  };
  if (n_groups == 1) {
    groups(0, 1);
  } else {
    pool.parallel_for(n_groups, groups);
  }
}

}  // namespace

Kernels scalar_kernels() {
  Kernels k;
  k.gemv = gemv_scalar;
  k.quantize = quantize_token_scalar;
  return k;
}

size_t scratch_bytes(int64_t n_tokens, int64_t cols) {
  if (n_tokens <= 0 || cols <= 0) return 0;
  int64_t bytes = n_tokens * act_token_bytes(cols);
  // Room for the GEMM's interleaved copy whichever path runs: the size depends only on the
  // arguments.
  if (n_tokens >= kGemmMinTokens) {
    bytes += (n_tokens + kGroupTokens - 1) / kGroupTokens * lanes_group_bytes(cols);
  }
  return static_cast<size_t>(bytes);
}

size_t aux_bytes(int64_t rows, int64_t cols, CpuPath path) {
  if (resolve_cpu_path(path) != CpuPath::kAvx512Vnni || rows <= 0 || cols <= 0) return 0;
  return static_cast<size_t>(rows) * sizeof(int32_t);
}

Status prepare_aux(const void* w, int64_t rows, int64_t cols, void* aux, size_t aux_size,
                   ThreadPool& pool, CpuPath path) {
  size_t need = aux_bytes(rows, cols, path);
  if (need == 0 || aux_size < need || !w || !aux) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul_prepare_aux: i8 [{}, {}] needs {} aux bytes, got {}", rows, cols,
                      need, aux_size);
  }
  pool.parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int8_t* row = static_cast<const int8_t*>(w) + r * cols;
      int64_t sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += row[c];
      static_cast<int32_t*>(aux)[r] = static_cast<int32_t>(-128 * sum);
    }
  });
  return ok_status();
}

Status run(const MatmulArgs& args, void* scratch, size_t scratch_size, ThreadPool& pool,
           CpuPath path) {
  MX_RETURN_IF_ERROR(validate(args, scratch, scratch_size));
  if (args.rows == 0 || args.n_tokens == 0) return ok_status();
  const Kernels k = kernels_for(path);
  const bool gemm = k.gemm && args.n_tokens >= kGemmMinTokens;
  Job job;
  job.w = static_cast<const int8_t*>(args.w);
  job.w_scale = args.w_scale;
  job.w_bias = k.wants_bias ? static_cast<const int32_t*>(args.w_aux) : nullptr;
  job.cols = args.cols;
  job.acts = static_cast<const uint8_t*>(scratch);
  job.token_bytes = act_token_bytes(args.cols);
  job.lanes = job.acts + args.n_tokens * job.token_bytes;
  job.group_bytes = lanes_group_bytes(args.cols);
  job.y = args.y;
  job.y_stride = args.y_stride;
  quantize_all(args, k, gemm, job, pool);

  // GEMM: 16 rows a tile. GEMV: memory-bound, chunks small enough that both cores stay busy to
  // the end even when one is slowed by another process.
  const int64_t chunk =
      gemm ? 16 : std::clamp<int64_t>(round_up(args.rows / (pool.size() * 8), 4), 4, 256);
  const int64_t n_chunks = (args.rows + chunk - 1) / chunk;
  const Kernel kernel = gemm ? k.gemm : k.gemv;
  std::atomic<int64_t> next_chunk{0};
  pool.share([&](int, int) {
    for (int64_t c = next_chunk.fetch_add(1); c < n_chunks; c = next_chunk.fetch_add(1)) {
      const int64_t r0 = c * chunk;
      kernel(job, r0, std::min(args.rows, r0 + chunk), 0, args.n_tokens);
    }
  });
  return ok_status();
}

}  // namespace mx::w8a8
