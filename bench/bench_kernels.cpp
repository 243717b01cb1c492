// CPU kernel benchmark: GEMV bandwidth per weight type, GEMM GFLOP/s at 512 tokens, and a
// memory-bandwidth probe, so decode can be stated as a fraction of the roofline.
//   bench_kernels [--threads 1,2] [--quick] [--path auto|scalar|avx2|avx512|avx512_vnni]
//                 [--types q8_0,q4_K,...] [--bandwidth-only] [--shapes 1024x1024,... (GEMV only)]
//                 [--gemm-tokens N (GEMM only, N tokens, on --shapes; no bandwidth probe)]
//                 [--no-aux (GEMM without the per-weight data a loaded model prepares)]
// Type i8 is W8A8 (int8 weights with per-row scales, per-token int8 activations).
// Prints one JSON object (medians of repeated runs) to stdout.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quants.h"
// Random valid blocks of the types without a quantizer (the IQ1 / IQ2 / IQ3 / TQ grid types).
#include "../tests/unit/kernels/random_blocks.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename Fn>
double median_seconds(Fn&& fn, int reps) {
  std::vector<double> times;
  fn();  // warm-up
  for (int i = 0; i < reps; ++i) {
    auto start = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Streaming read of a 1 GiB buffer: 8 independent accumulators per thread.
double bandwidth_gbs(mx::ThreadPool& pool, std::vector<uint64_t>& buffer, int reps) {
  std::vector<uint64_t> sinks(64);
  double seconds = median_seconds([&] {
    pool.parallel_for(static_cast<int64_t>(buffer.size() / 8), [&](int64_t b, int64_t e) {
      uint64_t acc[8] = {};
      for (int64_t i = b; i < e; ++i) {
        for (int k = 0; k < 8; ++k) acc[k] += buffer[static_cast<size_t>(i * 8 + k)];
      }
      uint64_t s = 0;
      for (uint64_t v : acc) s += v;
      sinks[static_cast<size_t>(b % 64)] = s;
    });
  }, reps);
  return static_cast<double>(buffer.size() * 8) / seconds / 1e9;
}

struct Matrix {
  mx::DType type;
  int64_t rows, cols;
  std::vector<uint8_t> w;
  std::vector<float> row_scale;  // i8 (W8A8) only; the copies share it
};

// Several copies of the matrix so GEMV reads from DRAM, not the 32 MB L3.
Matrix make_matrix(mx::DType type, int64_t rows, int64_t cols, int copies) {
  Matrix m{type, rows, cols, {}, {}};
  size_t rb = static_cast<size_t>(*mx::row_bytes(type, static_cast<uint64_t>(cols)));
  m.w.resize(rb * static_cast<size_t>(rows * copies));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = normal(rng);
    if (type == mx::DType::I8) {
      m.row_scale.push_back(mx::quantize_row_w8a8(
          row.data(), reinterpret_cast<int8_t*>(m.w.data() + r * rb), cols));
    } else if (!mx::can_quantize(type)) {
      mx::test::fill_random_grid_blocks(type, m.w.data() + r * rb, cols / 256, 1e-3f, rng);
    } else if (!mx::quantize_row(type, row.data(), m.w.data() + r * rb, cols)) {
      std::abort();
    }
  }
  for (int c = 1; c < copies; ++c) std::memcpy(m.w.data() + c * rb * rows, m.w.data(), rb * rows);
  return m;
}

bool g_use_aux = true;  // --no-aux: GEMM without matmul_prepare_aux() data

double run_matmul(const Matrix& m, int64_t n_tokens, mx::ThreadPool& pool, mx::CpuPath path,
                  int copies, int reps) {
  std::vector<float> x(static_cast<size_t>(n_tokens * m.cols), 0.5f);
  std::vector<float> y(static_cast<size_t>(n_tokens * m.rows));
  std::vector<uint8_t> scratch(mx::matmul_scratch_bytes(m.type, n_tokens, m.cols) + 64);
  size_t matrix_bytes = m.w.size() / static_cast<size_t>(copies);
  // The per-weight data a loaded model prepares (GEMM runs on one copy only; i8's per-row sums
  // are the same for every copy).
  std::vector<uint8_t> aux((copies == 1 || m.type == mx::DType::I8) && g_use_aux
                               ? mx::matmul_aux_bytes(m.type, m.rows, m.cols, path) : 0);
  if (!aux.empty() && !mx::matmul_prepare_aux(m.type, m.w.data(), m.rows, m.cols, aux.data(),
                                              aux.size(), pool, path).ok()) {
    std::abort();
  }
  int next = 0;
  return median_seconds([&] {
    mx::MatmulArgs args{m.type, m.w.data() + matrix_bytes * static_cast<size_t>(next),
                        m.rows, m.cols, x.data(), m.cols, y.data(), m.rows, n_tokens,
                        aux.empty() ? nullptr : aux.data(),
                        m.row_scale.empty() ? nullptr : m.row_scale.data()};
    next = (next + 1) % copies;
    if (!mx::matmul(args, scratch.data(), scratch.size(), pool, path).ok()) std::abort();
  }, reps);
}

mx::CpuPath parse_path(const std::string& name) {
  for (mx::CpuPath p : {mx::CpuPath::kAuto, mx::CpuPath::kScalar, mx::CpuPath::kAvx2,
                        mx::CpuPath::kAvx512, mx::CpuPath::kAvx512Vnni}) {
    if (name == mx::cpu_path_name(p)) return p;
  }
  return mx::CpuPath::kAuto;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  bool bandwidth_only = false;
  int64_t gemm_tokens = 0;
  std::string shape_list;
  std::string type_filter;  // ",q8_0,q4_K," or empty for all
  mx::CpuPath path = mx::CpuPath::kAuto;
  std::vector<int> thread_counts = {1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    if (arg == "--no-aux") g_use_aux = false;
    if (arg == "--bandwidth-only") bandwidth_only = true;
    if (arg == "--shapes" && i + 1 < argc) shape_list = argv[++i];
    if (arg == "--gemm-tokens" && i + 1 < argc) gemm_tokens = std::stoll(argv[++i]);
    if (arg == "--types" && i + 1 < argc) type_filter = std::string(",") + argv[++i] + ",";
    if (arg == "--path" && i + 1 < argc) path = parse_path(argv[++i]);
    if (arg == "--threads" && i + 1 < argc) {
      thread_counts.clear();
      for (char* s = argv[++i]; *s;) {
        thread_counts.push_back(static_cast<int>(std::strtol(s, &s, 10)));
        if (*s == ',') ++s;
      }
    }
  }
  const mx::DType types[] = {
      mx::DType::F32,  mx::DType::F16,  mx::DType::BF16,   mx::DType::Q8_0,
      mx::DType::Q4_0, mx::DType::Q4_K, mx::DType::Q5_K,   mx::DType::Q6_K,
      mx::DType::I8,   mx::DType::Q4_1, mx::DType::Q5_0,   mx::DType::Q5_1,
      mx::DType::Q2_K, mx::DType::Q3_K, mx::DType::IQ4_NL, mx::DType::IQ4_XS,
      mx::DType::MXFP4, mx::DType::IQ3_XXS, mx::DType::IQ3_S, mx::DType::IQ2_XXS,
      mx::DType::IQ2_XS, mx::DType::IQ2_S, mx::DType::IQ1_S, mx::DType::IQ1_M,
      mx::DType::TQ1_0, mx::DType::TQ2_0};
  struct Shape { const char* name; int64_t rows, cols; };
  std::vector<Shape> shapes = {{"1024x3072", 1024, 3072}, {"2048x8192", 2048, 8192}};
  std::vector<std::string> shape_names;  // --shapes ROWSxCOLS,... (GEMV only)
  if (!shape_list.empty()) {
    shapes.clear();
    for (size_t pos = 0; pos < shape_list.size();) {
      size_t comma = shape_list.find(',', pos);
      std::string item = shape_list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      pos = comma == std::string::npos ? shape_list.size() : comma + 1;
      shape_names.push_back(item);
      size_t x = item.find('x');
      shapes.push_back({nullptr, std::stoll(item.substr(0, x)), std::stoll(item.substr(x + 1))});
    }
    for (size_t i = 0; i < shapes.size(); ++i) shapes[i].name = shape_names[i].c_str();
  }
  std::vector<uint64_t> buffer(gemm_tokens > 0 ? 8 : (1ull << 30) / 8, 1);
  std::printf("{\n  \"cpu\": \"%s\",\n  \"path\": \"%s\",\n",
              mx::cpu_features().describe().c_str(),
              mx::cpu_path_name(mx::resolve_cpu_path(path)));
  std::printf("  \"results\": [\n");
  bool first = true;
  for (int threads : thread_counts) {
    mx::ThreadPool pool(threads);
    double bw = gemm_tokens > 0 ? 0.0 : bandwidth_gbs(pool, buffer, quick ? 3 : 7);
    std::printf("%s    {\"kind\": \"bandwidth\", \"threads\": %d, \"gb_s\": %.2f}", first ? "" : ",\n",
                threads, bw);
    first = false;
    for (mx::DType type : types) {
      if (bandwidth_only) break;
      std::string name = ",";
      name += mx::dtype_name(type);
      if (!type_filter.empty() && type_filter.find(name + ",") == std::string::npos) continue;
      for (const Shape& shape : shapes) {
        // Copies spanning >= 256 MiB so GEMV streams from DRAM, not the 32 MiB L3.
        int64_t one = static_cast<int64_t>(*mx::row_bytes(type, static_cast<uint64_t>(shape.cols))) * shape.rows;
        int copies = static_cast<int>(std::max<int64_t>(8, (int64_t{256} << 20) / one));
        if (gemm_tokens > 0) {
          Matrix m = make_matrix(type, shape.rows, shape.cols, 1);
          double gemm = run_matmul(m, gemm_tokens, pool, path, 1, quick ? 3 : 7);
          double flops = 2.0 * static_cast<double>(shape.rows * shape.cols * gemm_tokens);
          std::printf(",\n    {\"kind\": \"gemm\", \"type\": \"%s\", \"shape\": \"%s\", \"tokens\": %ld, "
                      "\"threads\": %d, \"ms\": %.3f, \"gflop_s\": %.1f}",
                      std::string(mx::dtype_name(type)).c_str(), shape.name,
                      static_cast<long>(gemm_tokens), threads, gemm * 1e3, flops / gemm / 1e9);
          std::fflush(stdout);
          continue;
        }
        Matrix m = make_matrix(type, shape.rows, shape.cols, copies);
        double bytes = static_cast<double>(m.w.size()) / copies;
        double gemv = run_matmul(m, 1, pool, path, copies, quick ? 9 : 31);
        std::printf(",\n    {\"kind\": \"gemv\", \"type\": \"%s\", \"shape\": \"%s\", \"threads\": %d, "
                    "\"us\": %.1f, \"gb_s\": %.2f, \"roofline_fraction\": %.3f}",
                    std::string(mx::dtype_name(type)).c_str(), shape.name, threads, gemv * 1e6,
                    bytes / gemv / 1e9, bytes / gemv / 1e9 / bw);
        if ((shape.rows == 2048 && quick) || !shape_list.empty()) continue;
        int64_t tokens = 512;
        double gemm = run_matmul(m, tokens, pool, path, 1, quick ? 1 : 3);
        double flops = 2.0 * static_cast<double>(shape.rows * shape.cols * tokens);
        std::printf(",\n    {\"kind\": \"gemm\", \"type\": \"%s\", \"shape\": \"%s\", \"tokens\": %ld, "
                    "\"threads\": %d, \"ms\": %.2f, \"gflop_s\": %.1f}",
                    std::string(mx::dtype_name(type)).c_str(), shape.name, static_cast<long>(tokens),
                    threads, gemm * 1e3, flops / gemm / 1e9);
        std::fflush(stdout);
      }
    }
  }
  std::printf("\n  ]\n}\n");
  return 0;
}
