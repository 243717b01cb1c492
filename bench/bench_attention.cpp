// Attention kernel benchmark on the paged F16 KV cache, Qwen3-0.6B shape by default (16 heads,
// 8 KV heads, head_dim 128, 32-token blocks):
//   prefill  one sequence of --queries new tokens at the end of --kv cached ones (a prompt whose
//            prefix came from the prefix cache: 205 of 2048 by default)
//   decode   --seqs sequences of one new token each over --kv tokens (a step of batched decodes)
//   bench_attention [--threads 1,2] [--queries 205] [--kv 2048] [--seqs 16] [--heads 16]
//                   [--kv-heads 8] [--head-dim 128] [--block 32] [--reps 7]
// Prints one JSON object (medians) to stdout; GFLOP/s counts 4 * head_dim flops per
// (query, head, visible kv token): the QK and PV products.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/cpu_features.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> threads = {1, 2};
  int64_t queries = 205, kv = 2048, seqs = 16, heads = 16, kv_heads = 8, head_dim = 128;
  int64_t block = 32;
  int reps = 7;
};

struct Sequence {
  std::vector<float> q, out;
  std::vector<int32_t> positions;
};

// Runs attention over `n_seqs` sequences of `n_q` queries each at the end of `n_kv` tokens that
// all read the same blocks; returns the median seconds.
double run(const Options& o, mx::ThreadPool& pool, int64_t n_seqs, int64_t n_q) {
  mx::PagedKv kv{nullptr, nullptr, 0, o.block, o.kv_heads, o.head_dim, mx::DType::F16};
  kv.block_stride_bytes = kv.block_part_bytes();
  int64_t n_blocks = (o.kv + o.block - 1) / o.block;
  std::vector<uint8_t> k_pool(static_cast<size_t>(n_blocks * kv.block_stride_bytes));
  std::vector<uint8_t> v_pool(k_pool.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> rows(static_cast<size_t>(o.kv * o.kv_heads * o.head_dim));
  std::vector<int32_t> table(static_cast<size_t>(n_blocks)), positions(static_cast<size_t>(o.kv));
  std::iota(table.begin(), table.end(), 0);
  std::iota(positions.begin(), positions.end(), 0);
  kv.k_base = k_pool.data();
  kv.v_base = v_pool.data();
  for (float& x : rows) x = normal(rng);
  int64_t row = o.kv_heads * o.head_dim;
  mx::kv_write(kv, table.data(), positions.data(), o.kv, rows.data(), row, rows.data(), row);

  int64_t width = o.heads * o.head_dim;
  std::vector<Sequence> data(static_cast<size_t>(n_seqs));
  std::vector<mx::AttentionSeq> seqs;
  for (Sequence& s : data) {
    s.q.resize(static_cast<size_t>(n_q * width));
    s.out.resize(s.q.size());
    for (float& x : s.q) x = normal(rng);
    for (int64_t t = 0; t < n_q; ++t) s.positions.push_back(static_cast<int32_t>(o.kv - n_q + t));
    seqs.push_back({table.data(), o.kv, n_q, s.positions.data(), s.q.data(), width,
                    s.out.data(), width});
  }
  mx::AttentionShape shape{o.heads, n_seqs * n_q, pool.size()};
  std::vector<uint8_t> scratch(mx::attention_scratch_bytes(kv, shape) + 64);
  void* aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
  float scale = 1.0f / std::sqrt(static_cast<float>(o.head_dim));
  std::vector<double> times;
  for (int i = 0; i <= o.reps; ++i) {
    auto start = Clock::now();
    if (!mx::attention(kv, seqs.data(), n_seqs, o.heads, scale, aligned, scratch.size() - 64,
                       pool).ok()) {
      std::abort();
    }
    if (i > 0) times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Flops of n_q queries at the end of n_kv tokens (query t sees n_kv - n_q + t + 1 tokens).
double flops(const Options& o, int64_t n_seqs, int64_t n_q) {
  double visible = 0.0;
  for (int64_t t = 0; t < n_q; ++t) visible += static_cast<double>(o.kv - n_q + t + 1);
  return 4.0 * static_cast<double>(o.head_dim * o.heads * n_seqs) * visible;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    char* value = argv[i + 1];
    if (arg == "--threads") {
      o.threads.clear();
      for (char* s = value; *s;) {
        o.threads.push_back(static_cast<int>(std::strtol(s, &s, 10)));
        if (*s == ',') ++s;
      }
    } else if (arg == "--queries") { o.queries = std::atoll(value);
    } else if (arg == "--kv") { o.kv = std::atoll(value);
    } else if (arg == "--seqs") { o.seqs = std::atoll(value);
    } else if (arg == "--heads") { o.heads = std::atoll(value);
    } else if (arg == "--kv-heads") { o.kv_heads = std::atoll(value);
    } else if (arg == "--head-dim") { o.head_dim = std::atoll(value);
    } else if (arg == "--block") { o.block = std::atoll(value);
    } else if (arg == "--reps") { o.reps = std::atoi(value);
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::printf("{\n  \"cpu\": \"%s\",\n  \"shape\": {\"heads\": %ld, \"kv_heads\": %ld, "
              "\"head_dim\": %ld, \"block\": %ld, \"kv\": %ld},\n  \"results\": [",
              mx::cpu_features().describe().c_str(), static_cast<long>(o.heads),
              static_cast<long>(o.kv_heads), static_cast<long>(o.head_dim),
              static_cast<long>(o.block), static_cast<long>(o.kv));
  const char* sep = "\n";
  for (int threads : o.threads) {
    mx::ThreadPool pool(threads);
    struct Case { const char* kind; int64_t n_seqs, n_q; };
    for (Case c : {Case{"prefill", 1, o.queries}, Case{"decode", o.seqs, 1}}) {
      double seconds = run(o, pool, c.n_seqs, c.n_q);
      std::printf("%s    {\"kind\": \"%s\", \"seqs\": %ld, \"queries\": %ld, \"threads\": %d, "
                  "\"ms\": %.3f, \"gflop_s\": %.1f}",
                  sep, c.kind, static_cast<long>(c.n_seqs), static_cast<long>(c.n_q), threads,
                  seconds * 1e3, flops(o, c.n_seqs, c.n_q) / seconds / 1e9);
      sep = ",\n";
      std::fflush(stdout);
    }
  }
  std::printf("\n  ]\n}\n");
  return 0;
}
