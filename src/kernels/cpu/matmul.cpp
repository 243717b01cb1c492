// matmul(): validation, scratch layout, path dispatch and the split of work over the pool.
// The per-type arithmetic lives in matmul_scalar.cpp and the SIMD files.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/matmul_w8a8.h"

namespace mx {

using namespace matmul_detail;

bool matmul_supports(DType w_type) {
  switch (w_type) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0:
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::I8:
      return true;
    default:
      return false;
  }
}

size_t matmul_scratch_bytes(DType w_type, int64_t n_tokens, int64_t cols) {
  if (w_type == DType::I8) return w8a8::scratch_bytes(n_tokens, cols);
  if (!is_legacy(w_type) && !is_k_type(w_type)) return 0;
  int64_t bytes = act_layout(w_type, cols).token_bytes * std::max<int64_t>(n_tokens, 0);
  // Interleaved copies for the lanes kernels (whichever path runs and whether w_aux is given:
  // the size depends only on the arguments).
  if (n_tokens >= lanes_min_tokens(w_type, true)) {
    bytes += (n_tokens + 15) / 16 * lanes_layout(w_type, cols).group_bytes;
  }
  return static_cast<size_t>(bytes);
}

int activation_block_elems(DType w_type) {
  if (is_legacy(w_type)) return static_cast<int>(kLegacyBlock);
  if (is_k_type(w_type)) return static_cast<int>(kSuperBlock);
  return 0;
}

void quantize_activations_row(DType w_type, const float* x, int64_t cols, int8_t* q, float* d) {
  if (w_type == DType::I8) {
    matmul_detail::quantize_block_scalar(x, cols, q, d);
    return;
  }
  int64_t block = activation_block_elems(w_type);
  if (block == 0) return;
  for (int64_t b = 0; b < cols / block; ++b) {
    matmul_detail::quantize_block_scalar(x + b * block, block, q + b * block, d + b);
  }
}

size_t matmul_aux_bytes(DType w_type, int64_t rows, int64_t cols, CpuPath path) {
  if (w_type == DType::I8) return w8a8::aux_bytes(rows, cols, path);
  if (w_type != DType::Q8_0 || resolve_cpu_path(path) != CpuPath::kAvx512Vnni) return 0;
  if (rows <= 0 || cols <= 0 || cols % kLegacyBlock != 0) return 0;
  return static_cast<size_t>(rows * (cols / kLegacyBlock)) * sizeof(Q8LanesAux);
}

Status matmul_prepare_aux(DType w_type, const void* w, int64_t rows, int64_t cols, void* aux,
                          size_t aux_bytes, ThreadPool& pool, CpuPath path) {
  if (w_type == DType::I8) return w8a8::prepare_aux(w, rows, cols, aux, aux_bytes, pool, path);
  size_t need = matmul_aux_bytes(w_type, rows, cols, path);
  if (need == 0 || aux_bytes < need || !w || !aux) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul_prepare_aux: {} [{}, {}] needs {} aux bytes, got {}",
                      dtype_name(w_type), rows, cols, need, aux_bytes);
  }
  const int64_t n_groups = cols / kLegacyBlock;
  const int64_t row_size = n_groups * 34;
  pool.parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const auto* block = static_cast<const uint8_t*>(w) + r * row_size;
      auto* out = static_cast<Q8LanesAux*>(aux) + r * n_groups;
      for (int64_t g = 0; g < n_groups; ++g, block += 34) {
        uint16_t d;
        std::memcpy(&d, block, 2);
        int32_t sum = 0;
        for (int i = 0; i < 32; ++i) sum += static_cast<int8_t>(block[2 + i]);
        out[g] = {-128 * sum, fp16_to_fp32(d)};
      }
    }
  });
  return ok_status();
}

namespace matmul_detail {

void quantize_block_scalar(const float* x, int64_t n, int8_t* q, float* d) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  // Same operations as the SIMD quantizers (multiply by 127/amax, round half to even), so
  // every path sees identical int8 activations.
  float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inv));
  *d = amax / 127.0f;
}

}  // namespace matmul_detail

namespace {

PathKernels kernels_for(CpuPath path, DType w_type) {
  switch (resolve_cpu_path(path)) {
    case CpuPath::kAvx512Vnni: return avx512_vnni_kernels(w_type);
    case CpuPath::kAvx512: return avx512_kernels(w_type);
    case CpuPath::kAvx2: return avx2_kernels(w_type);
    default: return scalar_kernels(w_type);
  }
}

LanesKernels lanes_kernels_for(CpuPath path, DType w_type) {
  if (resolve_cpu_path(path) == CpuPath::kAvx512Vnni) return avx512_vnni_lanes_kernels(w_type);
  return {};
}

Status validate(const MatmulArgs& a, void* scratch, size_t scratch_bytes) {
  if (!matmul_supports(a.w_type)) {
    return make_error(ErrorCode::kUnsupported, "matmul: weight type {} is not supported",
                      dtype_name(a.w_type));
  }
  if (a.rows < 0 || a.cols <= 0 || a.n_tokens < 0) {
    return make_error(ErrorCode::kInvalidArgument, "matmul: bad shape rows={} cols={} tokens={}",
                      a.rows, a.cols, a.n_tokens);
  }
  if (!row_bytes(a.w_type, static_cast<uint64_t>(a.cols))) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: cols={} is not a multiple of the {} block size", a.cols,
                      dtype_name(a.w_type));
  }
  if (a.x_stride < a.cols || a.y_stride < a.rows) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: x_stride={} must be >= cols={} and y_stride={} >= rows={}",
                      a.x_stride, a.cols, a.y_stride, a.rows);
  }
  if (a.rows > 0 && a.n_tokens > 0 && (!a.w || !a.x || !a.y)) {
    return make_error(ErrorCode::kInvalidArgument, "matmul: null w, x or y");
  }
  size_t need = matmul_scratch_bytes(a.w_type, a.n_tokens, a.cols);
  if (scratch_bytes < need || (need > 0 && !scratch)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: scratch of {} bytes is too small, need {} (matmul_scratch_bytes)",
                      scratch_bytes, need);
  }
  return ok_status();
}

// Rows per work item. Decode (few tokens) is memory-bound: chunks small enough that both cores
// stay busy to the end even if one is slowed by another process. Prefill is compute-bound:
// chunks big enough to amortize the walk over tokens, small enough to balance.
// The lanes kernels take rows 16 at a time.
int64_t rows_per_chunk(int64_t rows, int64_t n_tokens, int n_threads, bool lanes) {
  if (n_tokens >= 16 || lanes) return 16;
  int64_t chunk = rows / (static_cast<int64_t>(n_threads) * 8);
  return std::clamp<int64_t>(round_up(chunk, 4), 4, 256);
}

}  // namespace

Status matmul(const MatmulArgs& args, void* scratch, size_t scratch_bytes, ThreadPool& pool,
              CpuPath path) {
  if (args.w_type == DType::I8) return w8a8::run(args, scratch, scratch_bytes, pool, path);
  MX_RETURN_IF_ERROR(validate(args, scratch, scratch_bytes));
  if (args.rows == 0 || args.n_tokens == 0) return ok_status();
  PathKernels kernels = kernels_for(path, args.w_type);
  if (!kernels.kernel) kernels = scalar_kernels(args.w_type);

  MatmulJob job;
  job.w_type = args.w_type;
  job.w = static_cast<const uint8_t*>(args.w);
  job.w_row_bytes = static_cast<int64_t>(*row_bytes(args.w_type, static_cast<uint64_t>(args.cols)));
  job.cols = args.cols;
  job.x = args.x;
  job.x_stride = args.x_stride;
  job.y = args.y;
  job.y_stride = args.y_stride;
  job.layout = act_layout(args.w_type, args.cols);
  job.acts = static_cast<const uint8_t*>(scratch);
  job.w_aux = args.w_aux;

  LanesKernels lanes;
  if (kernels.quantize && args.n_tokens >= lanes_min_tokens(args.w_type, args.w_aux != nullptr)) {
    lanes = lanes_kernels_for(path, args.w_type);
  }
  if (lanes.kernel) {
    // Quantize and interleave per group of 16 tokens in one region.
    auto* records = static_cast<uint8_t*>(scratch);
    job.lanes = records + args.n_tokens * job.layout.token_bytes;
    job.lanes_layout = lanes_layout(args.w_type, args.cols);
    pool.parallel_for((args.n_tokens + 15) / 16, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; ++g) {
        for (int64_t t = g * 16; t < std::min(args.n_tokens, g * 16 + 16); ++t) {
          kernels.quantize(args.w_type, args.x + t * args.x_stride, args.cols, job.layout,
                           records + t * job.layout.token_bytes);
        }
        lanes.interleave(job, g, args.n_tokens);
      }
    });
    kernels.kernel = lanes.kernel;
  } else if (kernels.quantize) {
    auto* records = static_cast<uint8_t*>(scratch);
    auto quantize_tokens = [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        kernels.quantize(args.w_type, args.x + t * args.x_stride, args.cols, job.layout,
                         records + t * job.layout.token_bytes);
      }
    };
    if (args.n_tokens < 4) {
      quantize_tokens(0, args.n_tokens);
    } else {
      pool.parallel_for(args.n_tokens, quantize_tokens);
    }
  }

  int64_t chunk = rows_per_chunk(args.rows, args.n_tokens, pool.size(), lanes.kernel != nullptr);
  int64_t n_chunks = (args.rows + chunk - 1) / chunk;
  std::atomic<int64_t> next_chunk{0};
  pool.share([&](int, int) {
    for (int64_t c = next_chunk.fetch_add(1); c < n_chunks; c = next_chunk.fetch_add(1)) {
      int64_t r0 = c * chunk;
      kernels.kernel(job, r0, std::min(args.rows, r0 + chunk), 0, args.n_tokens);
    }
  });
  return ok_status();
}

}  // namespace mx
