// What the CPU can do, read once from CPUID: kernels pick their AVX2 / AVX-512 / VNNI / BF16
// paths from this at run time, with a scalar fallback everywhere.
#pragma once

#include <string>

namespace mx {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  bool avx_vnni = false;

  std::string describe() const;  // "avx2 fma f16c avx512f ..."
};

// Detected once (thread-safe); MX_CPU_DISABLE is not read here (no getenv in library code).
const CpuFeatures& cpu_features();

}  // namespace mx
