// matmul(): validation, scratch layout, path dispatch and the split of work over the pool.
// The per-type arithmetic lives in matmul_scalar.cpp and the SIMD files.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <array>
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
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::IQ4_NL:
    case DType::IQ4_XS:
    case DType::MXFP4:
    case DType::IQ2_XXS:
    case DType::IQ2_XS:
    case DType::IQ2_S:
    case DType::IQ3_XXS:
    case DType::IQ3_S:
    case DType::IQ1_S:
    case DType::IQ1_M:
    case DType::TQ1_0:
    case DType::TQ2_0:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::I8:
    case DType::F8_E4M3:
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
  if (w_type == DType::F8_E4M3) return fp8_kernels(resolve_cpu_path(path));
  switch (resolve_cpu_path(path)) {
    case CpuPath::kAvx512Vnni:
      return avx512_vnni_kernels(w_type);
    case CpuPath::kAvx512:
      return avx512_kernels(w_type);
    case CpuPath::kAvx2:
      return avx2_kernels(w_type);
    default:
      return scalar_kernels(w_type);
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
  if (a.w_type == DType::F8_E4M3 && !a.w_fp8.valid_for(a.cols)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul: f8_e4m3 weights need their block scales (w_fp8)");
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

// One product ready to run: its job, kernels and row chunks. Activations go to `scratch`.
struct PlannedCall {
  MatmulJob job;
  MatmulKernel kernel = nullptr;
  ActQuantizer quantize = nullptr;        // nullptr: float weights, x is read directly
  LanesInterleaver interleave = nullptr;  // set: the lanes kernel (tokens in vector lanes)
  int64_t n_tokens = 0;
  int64_t rows = 0;
  int64_t chunk = 0;  // rows per work item
  int64_t n_chunks = 0;
};

PlannedCall plan_call(const MatmulArgs& args, void* scratch, int n_threads, CpuPath path) {
  PathKernels kernels = kernels_for(path, args.w_type);
  if (!kernels.kernel) kernels = scalar_kernels(args.w_type);
  PlannedCall p;
  MatmulJob& job = p.job;
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
  job.w_fp8 = args.w_fp8;
  p.kernel = kernels.kernel;
  p.quantize = kernels.quantize;
  if (kernels.quantize && args.n_tokens >= lanes_min_tokens(args.w_type, args.w_aux != nullptr)) {
    LanesKernels lanes = lanes_kernels_for(path, args.w_type);
    if (lanes.kernel) {
      job.lanes = static_cast<const uint8_t*>(scratch) + args.n_tokens * job.layout.token_bytes;
      job.lanes_layout = lanes_layout(args.w_type, args.cols);
      p.kernel = lanes.kernel;
      p.interleave = lanes.interleave;
    }
  }
  p.n_tokens = args.n_tokens;
  p.rows = args.rows;
  p.chunk = rows_per_chunk(args.rows, args.n_tokens, n_threads, p.interleave != nullptr);
  p.n_chunks = (args.rows + p.chunk - 1) / p.chunk;
  return p;
}

// Quantizes tokens [t0, t1) into the call's records; the lanes kernels take whole groups of 16
// (t0 a multiple of 16, t1 the group's end) and also interleave the group.
void quantize_tokens(const PlannedCall& p, int64_t t0, int64_t t1) {
  const MatmulJob& job = p.job;
  auto* records = const_cast<uint8_t*>(job.acts);
  for (int64_t t = t0; t < t1; ++t) {
    p.quantize(job.w_type, job.x + t * job.x_stride, job.cols, job.layout,
               records + t * job.layout.token_bytes);
  }
  if (p.interleave) p.interleave(job, t0 / 16, p.n_tokens);
}

void run_chunk(const PlannedCall& p, int64_t c) {
  const int64_t r0 = c * p.chunk;
  p.kernel(p.job, r0, std::min(p.rows, r0 + p.chunk), 0, p.n_tokens);
}

// Calls that multiply the same activations (a MoE expert's gate and up; at decode, every
// expert's) quantize them once.
bool same_activations(const MatmulArgs& a, const MatmulArgs& b) {
  return a.x == b.x && a.x_stride == b.x_stride && a.n_tokens == b.n_tokens &&
         a.w_type == b.w_type && a.cols == b.cols && (a.w_aux == nullptr) == (b.w_aux == nullptr);
}

// Up to this many products share one region (their plans live on the stack).
constexpr size_t kMaxBatchCalls = 64;

void run_batch_slice(std::span<const MatmulArgs> calls, uint8_t* scratch, ThreadPool& pool,
                     CpuPath path) {
  std::array<PlannedCall, kMaxBatchCalls> plans;
  std::array<int64_t, kMaxBatchCalls + 1> chunk_end;  // prefix sums of n_chunks
  std::array<int64_t, kMaxBatchCalls + 1> group_end;  // prefix sums of token groups to quantize
  const size_t n = calls.size();
  chunk_end[0] = 0;
  group_end[0] = 0;
  int64_t tokens_to_quantize = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t same = 0;  // 1 + the earlier call whose activations this one reuses, or 0
    for (size_t j = 0; j < i && calls[i].n_tokens > 0 && same == 0; ++j) {
      if (same_activations(calls[j], calls[i])) same = j + 1;
    }
    if (same > 0) {
      plans[i] =
          plan_call(calls[i], const_cast<uint8_t*>(plans[same - 1].job.acts), pool.size(), path);
    } else {
      plans[i] = plan_call(calls[i], scratch, pool.size(), path);
      scratch += matmul_scratch_bytes(calls[i].w_type, calls[i].n_tokens, calls[i].cols);
    }
    const bool quantize = plans[i].quantize != nullptr && same == 0;
    chunk_end[i + 1] = chunk_end[i] + (calls[i].n_tokens > 0 ? plans[i].n_chunks : 0);
    group_end[i + 1] = group_end[i] + (quantize ? (calls[i].n_tokens + 15) / 16 : 0);
    if (quantize) tokens_to_quantize += calls[i].n_tokens;
  }
  // Item k of a prefix-summed list: the call it falls in, searched from the claimer's cursor
  // (each thread claims increasing items).
  auto call_of = [n](const std::array<int64_t, kMaxBatchCalls + 1>& end, int64_t item,
                     size_t& cursor) {
    while (cursor < n && end[cursor + 1] <= item) ++cursor;
    return cursor;
  };
  const int64_t n_groups = group_end[n];
  auto quantize_group = [&](int64_t g, size_t& cursor) {
    size_t i = call_of(group_end, g, cursor);
    const int64_t t0 = (g - group_end[i]) * 16;
    quantize_tokens(plans[i], t0, std::min(plans[i].n_tokens, t0 + 16));
  };
  if (tokens_to_quantize < 32) {  // decode: a few rows, cheaper here than a region
    size_t cursor = 0;
    for (int64_t g = 0; g < n_groups; ++g) quantize_group(g, cursor);
  } else if (n_groups > 0) {
    std::atomic<int64_t> next{0};
    pool.share([&](int, int) {
      size_t cursor = 0;
      for (int64_t g = next.fetch_add(1); g < n_groups; g = next.fetch_add(1)) {
        quantize_group(g, cursor);
      }
    });
  }
  const int64_t n_items = chunk_end[n];
  std::atomic<int64_t> next{0};
  pool.share([&](int, int) {
    size_t cursor = 0;
    for (int64_t c = next.fetch_add(1); c < n_items; c = next.fetch_add(1)) {
      size_t i = call_of(chunk_end, c, cursor);
      run_chunk(plans[i], c - chunk_end[i]);
    }
  });
}

}  // namespace

Status matmul(const MatmulArgs& args, void* scratch, size_t scratch_bytes, ThreadPool& pool,
              CpuPath path) {
  if (args.w_type == DType::I8) return w8a8::run(args, scratch, scratch_bytes, pool, path);
  MX_RETURN_IF_ERROR(validate(args, scratch, scratch_bytes));
  if (args.rows == 0 || args.n_tokens == 0) return ok_status();
  const PlannedCall p = plan_call(args, scratch, pool.size(), path);
  if (p.interleave) {
    // Quantize and interleave per group of 16 tokens in one region.
    pool.parallel_for((args.n_tokens + 15) / 16, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; ++g) {
        quantize_tokens(p, g * 16, std::min(args.n_tokens, g * 16 + 16));
      }
    });
  } else if (p.quantize) {
    if (args.n_tokens < 4) {
      quantize_tokens(p, 0, args.n_tokens);
    } else {
      pool.parallel_for(args.n_tokens,
                        [&](int64_t begin, int64_t end) { quantize_tokens(p, begin, end); });
    }
  }
  std::atomic<int64_t> next_chunk{0};
  pool.share([&](int, int) {
    for (int64_t c = next_chunk.fetch_add(1); c < p.n_chunks; c = next_chunk.fetch_add(1)) {
      run_chunk(p, c);
    }
  });
  return ok_status();
}

size_t matmul_batch_scratch_bytes(std::span<const MatmulArgs> calls) {
  size_t bytes = 0;
  for (const MatmulArgs& a : calls) bytes += matmul_scratch_bytes(a.w_type, a.n_tokens, a.cols);
  return bytes;
}

Status matmul_batch(std::span<const MatmulArgs> calls, void* scratch, size_t scratch_bytes,
                    ThreadPool& pool, CpuPath path) {
  const size_t need = matmul_batch_scratch_bytes(calls);
  if (scratch_bytes < need || (need > 0 && !scratch)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "matmul_batch: scratch of {} bytes is too small, need {} "
                      "(matmul_batch_scratch_bytes)",
                      scratch_bytes, need);
  }
  // W8A8 products have their own kernels (matmul_w8a8.h): one region each.
  if (std::any_of(calls.begin(), calls.end(),
                  [](const MatmulArgs& a) { return a.w_type == DType::I8; })) {
    for (const MatmulArgs& a : calls)
      MX_RETURN_IF_ERROR(matmul(a, scratch, scratch_bytes, pool, path));
    return ok_status();
  }
  for (const MatmulArgs& a : calls) MX_RETURN_IF_ERROR(validate(a, scratch, need));
  auto* bytes = static_cast<uint8_t*>(scratch);
  for (size_t begin = 0; begin < calls.size(); begin += kMaxBatchCalls) {
    std::span<const MatmulArgs> slice =
        calls.subspan(begin, std::min(kMaxBatchCalls, calls.size() - begin));
    run_batch_slice(slice, bytes, pool, path);
    bytes += matmul_batch_scratch_bytes(slice);
  }
  return ok_status();
}

}  // namespace mx
