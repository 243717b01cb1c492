#include "kernels/cpu/simd.h"

#include "kernels/cpu/cpu_features.h"

namespace mx {

const char* cpu_path_name(CpuPath path) {
  switch (path) {
    case CpuPath::kAuto: return "auto";
    case CpuPath::kScalar: return "scalar";
    case CpuPath::kAvx2: return "avx2";
    case CpuPath::kAvx512: return "avx512";
    case CpuPath::kAvx512Vnni: return "avx512_vnni";
  }
  return "unknown";
}

bool cpu_path_supported(CpuPath path) {
  const CpuFeatures& f = cpu_features();
  bool avx2 = f.avx2 && f.fma && f.f16c;
  // AVX-512 kernels also use the AVX2/FMA/F16C forms (ymm halves, fp16 scales).
  bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl;
  switch (path) {
    case CpuPath::kAuto:
    case CpuPath::kScalar: return true;
    case CpuPath::kAvx2: return avx2;
    case CpuPath::kAvx512: return avx512;
    case CpuPath::kAvx512Vnni: return avx512 && f.avx512_vnni;
  }
  return false;
}

CpuPath resolve_cpu_path(CpuPath requested) {
  CpuPath order[] = {CpuPath::kAvx512Vnni, CpuPath::kAvx512, CpuPath::kAvx2, CpuPath::kScalar};
  bool below = requested == CpuPath::kAuto;
  for (CpuPath path : order) {
    if (path == requested) below = true;
    if (below && cpu_path_supported(path)) return path;
  }
  return CpuPath::kScalar;
}

}  // namespace mx
